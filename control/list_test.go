package control

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// A filter value is always one string literal: its quotes and backslashes
// are escaped, so it cannot end the literal and add a condition.
func TestFilterQueryQuotesEveryValue(t *testing.T) {
	q, err := Filter{}.Query()
	require.NoError(t, err)
	assert.Equal(t, "WorkflowType = 'CanaryRollout'", q)

	q, err = Filter{App: `x' OR WorkflowType = 'y`, Namespace: `a\`, Phase: rollout.PhaseRolledBack}.Query()
	require.NoError(t, err)
	assert.Equal(t, `WorkflowType = 'CanaryRollout' AND CanaryApp = 'x\' OR WorkflowType = \'y' AND CanaryNamespace = 'a\\' AND CanaryPhase = 'RolledBack'`, q)

	for _, f := range []Filter{{App: "a\x00b"}, {Namespace: "a\nb"}, {App: "\xff"}, {Phase: "Done"}, {App: string(make([]byte, 300))}} {
		_, err := f.Query()
		assert.Error(t, err, "%+v", f)
	}
}
