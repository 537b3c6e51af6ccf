package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A bad spec must be refused before any connection is made: the address
// below accepts nothing, so reaching Temporal would show up as a dial error.
func TestStartRejectsABadSpecBeforeConnecting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for file, want := range map[string][]string{
		"testdata/invalid.yaml": {
			"invalid rollout spec (", "version: must be", "app:", "deploy.kind:", "steps[1].setWeight: must not decrease",
			"steps[2].setWeight: must be between 1 and 100", "notify.kind:",
		},
		"testdata/malformed.yaml": {"reading rollout spec", "yaml"},
	} {
		var out bytes.Buffer
		code, err := run(ctx, []string{"start", "-f", file, "--address", "127.0.0.1:1"}, &out)
		assert.Equal(t, 1, code, file)
		require.Error(t, err, file)
		for _, w := range want {
			assert.Contains(t, err.Error(), w, file)
		}
		assert.NotContains(t, err.Error(), "connecting to Temporal", file)
		assert.Empty(t, out.String(), file)
	}
}

func TestUsage(t *testing.T) {
	var out bytes.Buffer
	code, err := run(context.Background(), nil, &out)
	assert.Equal(t, 2, code)
	assert.NoError(t, err)
	assert.Contains(t, out.String(), "start   -f spec.yaml")
	code, err = run(context.Background(), []string{"approve"}, &out)
	assert.Equal(t, 2, code)
	assert.ErrorContains(t, err, "give --app and --namespace, or --id")
	code, err = run(context.Background(), []string{"frobnicate", "--id", "x"}, &out)
	assert.Equal(t, 2, code)
	assert.EqualError(t, err, `unknown command "frobnicate"`)
	code, err = run(context.Background(), []string{"approve", "--id", "x", "--step", "-1"}, &out)
	assert.Equal(t, 2, code)
	assert.ErrorContains(t, err, "--step must be a step number from 1")
}
