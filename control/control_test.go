package control

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// The standard Temporal environment configures the client; a flag wins over it.
func TestDialUsesTheTemporalEnvironment(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	t.Setenv("TEMPORAL_NAMESPACE", "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := Dial(ctx, "", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connecting to Temporal at 127.0.0.1:1")

	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = Dial(ctx, "127.0.0.1:2", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connecting to Temporal at 127.0.0.1:2")
}

func TestStartValidatesBeforeTouchingTheServer(t *testing.T) {
	// A nil client would panic if Start reached it: validation must come first.
	_, err := Start(context.Background(), nil, rollout.Spec{App: "x"}, "test")
	var v *rollout.ValidationError
	require.ErrorAs(t, err, &v)
	assert.Greater(t, len(v.Problems), 3)
}

func TestSignalNamesTheAllowedSignals(t *testing.T) {
	err := Signal(context.Background(), nil, "canary-a.b", "approved", nil)
	assert.EqualError(t, err, `signal "approved": must be one of approve, abort, promote, pause, resume, retry-rollback, resolve`)
}
