package workflows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// TestReplayCommittedHistories replays every history captured from a real run
// (`make histories`) on the current code. A failure means a change broke
// determinism for rollouts already running: guard it with workflow.GetVersion.
func TestReplayCommittedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 3, "the promoted, rolled-back and aborted histories must be committed")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			require.NoError(t, ReplayFile(f))
		})
	}
}

// loadHistories reads every committed fixture.
func loadHistories(t *testing.T) map[string]*historypb.History {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	require.NoError(t, err)
	out := map[string]*historypb.History{}
	for _, f := range files {
		r, err := os.Open(f)
		require.NoError(t, err)
		h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
		r.Close()
		require.NoError(t, err, f)
		out[filepath.Base(f)] = h
	}
	return out
}

// TestTheFixturesCoverSignalsInSeveralPhases keeps the replay check honest:
// a change to how signals are handled can only be noticed by histories that
// contain them, captured from real runs.
func TestTheFixturesCoverSignalsInSeveralPhases(t *testing.T) {
	seen := map[string]bool{}
	continuedWithSignal := false
	for _, h := range loadHistories(t) {
		continued := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId() != ""
		for _, ev := range h.GetEvents() {
			if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil {
				seen[a.GetSignalName()] = true
				continuedWithSignal = continuedWithSignal || continued
			}
		}
	}
	for _, name := range []string{rollout.SignalApprove, rollout.SignalPause, rollout.SignalResume, rollout.SignalPromote,
		rollout.SignalAbort, rollout.SignalRetryRollback, rollout.SignalResolve} {
		assert.True(t, seen[name], "no committed history contains the %s signal: run `make histories`", name)
	}
	assert.True(t, continuedWithSignal, "no committed history is a continued run that received a signal")
}

// TestReplayNoticesABehaviourChange proves the replay check has teeth: the
// workflow with one change (a timer before anything else, as an unguarded
// edit would add) fails to replay every fixture, and a fixture's signals
// matter (without them its history no longer matches what the code does).
func TestReplayNoticesABehaviourChange(t *testing.T) {
	changed := func(ctx workflow.Context, in Input) (Result, error) {
		if err := workflow.Sleep(ctx, time.Second); err != nil {
			return Result{}, err
		}
		return CanaryRollout(ctx, in)
	}
	for name, h := range loadHistories(t) {
		t.Run(name, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(changed, workflow.RegisterOptions{Name: "CanaryRollout"})
			assert.Error(t, r.ReplayWorkflowHistory(nil, h), "an unguarded change must fail replay")

			stripped := &historypb.History{}
			signals := 0
			for _, ev := range h.GetEvents() {
				if ev.GetWorkflowExecutionSignaledEventAttributes() != nil {
					signals++
					continue
				}
				stripped.Events = append(stripped.Events, ev)
			}
			if signals == 0 || strings.HasPrefix(name, "junk-") {
				return // junk signals are ignored by design: removing them changes nothing
			}
			assert.Error(t, Replay(stripped), "the history's signals must shape what it replays")
		})
	}
}
