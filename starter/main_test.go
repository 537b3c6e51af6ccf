package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// offline runs a command line that must never reach Temporal: the address
// given accepts nothing, so reaching it shows up as a dial error.
func offline(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = execute(ctx, append(args, "--address", "127.0.0.1:1"), &out, &errOut)
	return code, out.String(), errOut.String()
}

// A bad spec is refused before any connection is made, every problem named.
func TestStartAndPlanRejectABadSpecBeforeConnecting(t *testing.T) {
	t.Parallel()
	huge := filepath.Join(t.TempDir(), "huge.yaml")
	require.NoError(t, os.WriteFile(huge, bytes.Repeat([]byte("# padding\n"), rollout.MaxSpecBytes/10+1), 0o644))
	for file, want := range map[string][]string{
		"testdata/invalid.yaml": {
			"invalid rollout spec (", "version: must be", "app:", "deploy.kind:", "steps[1].setWeight: must not decrease",
			"steps[2].setWeight: must be between 1 and 100", "notify.kind:",
		},
		"testdata/malformed.yaml": {"reading rollout spec", "yaml"},
		huge:                      {"a rollout spec is at most 65536 bytes; this one is longer"},
		t.TempDir():               {"not a regular file"},
		"testdata/missing.yaml":   {"reading spec", "no such file"},
	} {
		for _, cmd := range []string{"start", "plan"} {
			code, out, errOut := offline(t, cmd, "-f", file)
			assert.Equal(t, exitFailure, code, "%s %s", cmd, file)
			for _, w := range want {
				assert.Contains(t, errOut, w, "%s %s", cmd, file)
			}
			assert.NotContains(t, errOut, "connecting to Temporal", "%s %s", cmd, file)
			assert.Empty(t, out, "%s %s", cmd, file)
		}
	}
}

func TestPlanShowsTheTimelineAndStartsNothing(t *testing.T) {
	t.Parallel()
	code, out, errOut := offline(t, "plan", "-f", "../examples/try.yaml")
	require.Equal(t, exitOK, code, errOut)
	for _, want := range []string{
		"plan for sandbox/shop: v1 → v2 (rollout canary-sandbox.shop)",
		"measured every 5s",
		"0s  1.   setWeight 10",
		"0s  2.   pause 20s",
		"20s  3.   setWeight 50",
		"waits for approval (starter approve)",
		"final measurement at 50% (one interval), then promote",
		"total: 25s plus the wait for the approval (no timeout), plus deploying, smoke tests and promotion",
		"0s       deploy the canary at weight 0, smoke-test it [░░░░░░░░░░░░░░░░░░░░]   0%",
		"nothing was started; to start it: starter start -f ../examples/try.yaml",
	} {
		assert.Contains(t, out, want)
	}

	code, out, errOut = offline(t, "plan", "-f", "../examples/reference.yaml", "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	var p plan
	require.NoError(t, json.Unmarshal([]byte(out), &p))
	assert.Equal(t, "canary-production.agence-immobiliere", p.RolloutID)
	require.NotEmpty(t, p.Steps)
	assert.Equal(t, "0s", p.Steps[0].At)
	total, err := time.ParseDuration(p.Total)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, total, 40*time.Minute, "the reference plan holds 15 + 10 + 15 minutes at least")
}

func TestPlanOfAGatedSequentialSpec(t *testing.T) {
	spec := rollout.Spec{Steps: []rollout.Step{rollout.Weight(10), rollout.Hold(time.Minute), rollout.Gate(3),
		rollout.ApprovalGate(time.Hour, rollout.OnTimeoutAbort)}, Analysis: rollout.Analysis{Interval: rollout.Duration(10 * time.Second)}}
	spec.Analysis.Judging.Method = rollout.MethodSequential
	p := planOf(spec)
	require.Len(t, p.Steps, 4)
	assert.Equal(t, []string{"0s", "0s", "1m0s", "1m30s"}, []string{p.Steps[0].At, p.Steps[1].At, p.Steps[2].At, p.Steps[3].At})
	assert.Equal(t, "1m40s", p.Total, "holds, the gate's 3 intervals and the final measurement")
	assert.Equal(t, "1h2m40s", p.Longest, "plus the hold's extension and the approval timeout")
	assert.Equal(t, 1, p.Approvals)
	assert.Contains(t, p.Steps[3].Note, "at most 1h0m0s, then abort")
}

// The command line is checked before anything is sent: each of these is a
// usage error (exit 2) naming what is wrong, and never reaches the server.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", rollout.MaxReasonBytes+1)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no command":         {nil, "a command is required"},
		"unknown command":    {[]string{"frobnicate"}, `unknown command "frobnicate"`},
		"no target":          {[]string{"approve"}, "give --app and --namespace, or --id"},
		"app without ns":     {[]string{"status", "--app", "shop"}, "give --app and --namespace, or --id"},
		"id and app":         {[]string{"abort", "--id", "x", "--app", "y"}, "none of the others can be"},
		"negative step":      {[]string{"approve", "--id", "x", "--step", "-1"}, "--step must be a step number from 1"},
		"step not a number":  {[]string{"approve", "--id", "x", "--step", "two"}, `invalid argument "two" for "--step"`},
		"oversized reason":   {[]string{"abort", "--id", "x", "--reason", long}, "--reason is 1025 bytes long; the maximum is 1024"},
		"oversized by":       {[]string{"pause", "--id", "x", "--by", long[:rollout.MaxByBytes+1]}, "--by is 129 bytes long; the maximum is 128"},
		"resolve w/o reason": {[]string{"resolve", "--id", "x", "--by", "dana"}, "--reason (what was done by hand) and --by are required"},
		"resolve w/o by":     {[]string{"resolve", "--id", "x", "--by", "", "--reason", "fixed"}, "--reason (what was done by hand) and --by are required"},
		"bad -o":             {[]string{"status", "--id", "x", "-o", "yaml"}, `-o "yaml": must be text or json`},
		"huge -o":            {[]string{"history", "--id", "x", "-o", long}, "bytes cut]\": must be text or json"},
		"bad -o on plan":     {[]string{"plan", "-f", "../examples/try.yaml", "-o", "xml"}, `-o "xml": must be text or json`},
		"bad -o on list":     {[]string{"list", "-o", "table"}, `-o "table": must be text or json`},
		"bad phase":          {[]string{"list", "--phase", "Done"}, `phase "Done": must be one of Validating,`},
		"control char app":   {[]string{"list", "--app", "a\nb"}, "app: contains control characters"},
		"huge app filter":    {[]string{"list", "--app", long}, "app: 1025 bytes long; the maximum is 253"},
		"bad limit":          {[]string{"list", "--limit", "0"}, "--limit must be between 1 and 10000"},
		"start without -f":   {[]string{"start"}, `required flag(s) "file" not set`},
		"plan without -f":    {[]string{"plan"}, `required flag(s) "file" not set`},
		"stray argument":     {[]string{"status", "--id", "x", "extra"}, `unknown command "extra"`},
		"zero interval":      {[]string{"watch", "--id", "x", "--every", "0s"}, "--every must be positive"},
		"unknown flag":       {[]string{"status", "--id", "x", "--jsn"}, "unknown flag: --jsn"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := offline(t, tc.args...)
			assert.Equal(t, exitUsage, code, errOut)
			assert.Contains(t, errOut, tc.want)
			assert.Contains(t, errOut, "--help' for usage.")
			assert.NotContains(t, errOut, "connecting to Temporal")
			assert.Less(t, len(errOut), 4096, "an oversized value is not echoed back whole")
		})
	}
}

// With the server down, every command that needs it says which address it tried.
func TestServerUnreachableNamesTheAddress(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"status", "--id", "x"}, {"watch", "--id", "x"}, {"history", "--id", "x"}, {"report", "--id", "x"},
		{"list"}, {"approve", "--id", "x"}, {"abort", "--id", "x"}, {"start", "-f", "../examples/try.yaml"},
	} {
		code, out, errOut := offline(t, args...)
		assert.Equal(t, exitFailure, code, "%v", args)
		assert.Contains(t, errOut, "starter: connecting to Temporal at 127.0.0.1:1", "%v", args)
		assert.Empty(t, out, "%v", args)
	}
}

// Without --address the standard Temporal environment says where to go.
func TestTemporalEnvironmentIsUsed(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:2")
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"status", "--id", "x"}, &out, &errOut)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut.String(), "connecting to Temporal at 127.0.0.1:2")
	code = execute(context.Background(), []string{"status", "--id", "x", "--address", "127.0.0.1:3"}, &out, &errOut)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut.String(), "connecting to Temporal at 127.0.0.1:3", "--address wins")
}

func TestHelpNamesTheExitCodes(t *testing.T) {
	t.Parallel()
	code, out, _ := offline(t, "--help")
	assert.Equal(t, exitOK, code)
	for _, want := range []string{"4  refused", "3  the rollout ended without promotion", "plan", "watch", "list", "report", "retry-rollback"} {
		assert.Contains(t, out, want)
	}
	code, out, _ = offline(t, "completion", "bash")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "bash completion")
	var buf bytes.Buffer
	code = execute(context.Background(), []string{"__complete", "list", "--phase", ""}, &buf, &buf)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, buf.String(), "RollbackFailed")
	buf.Reset()
	execute(context.Background(), []string{"__complete", "status", "-o", ""}, &buf, &buf)
	assert.Contains(t, buf.String(), "json")
}
