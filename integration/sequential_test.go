package integration

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/rollout"
)

// thin is a look with too few canary requests to decide anything.
func thin(int) (rollout.Sample, error) {
	s := metricsmem.Healthy()
	v := func(n float64) rollout.VersionCounts {
		return rollout.VersionCounts{Requests: n, Buckets: []rollout.Bucket{{LE: 0.1, Count: n}, {LE: rollout.Value(math.Inf(1)), Count: n}}}
	}
	s.Cumulative = &rollout.Counts{Canary: v(8), Stable: v(72), Span: rollout.Duration(time.Second)}
	return s, nil
}

func TestSequentialJudgementWaitsForAPersonOnARealServer(t *testing.T) {
	e := startEngine(t)
	e.metrics.ByApp["thin"] = thin
	e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := quickSpec("thin")
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(2 * time.Second)}
	spec.Analysis.Judging = rollout.Judging{Method: rollout.MethodSequential, MaxExtension: rollout.Duration(2 * time.Second)}
	run, err := control.Start(ctx, e.c, spec, "it")
	require.NoError(t, err)
	id := run.GetID()

	s := e.waitFor(ctx, t, id, "undecided at 10 %", func(s rollout.Status) bool { return s.Phase == rollout.PhaseAwaitApproval })
	assert.Equal(t, 10, s.Weight)
	m, ok := s.LastMeasurement()
	require.True(t, ok)
	assert.Equal(t, rollout.Inconclusive, m.Verdict, "too little data is never a pass")
	require.NotEmpty(t, m.Rules)
	e.signalCLI(t, id, rollout.SignalApprove, `{"by": "pat"}`)

	// The final judgement cannot decide either: a person aborts.
	e.waitFor(ctx, t, id, "undecided before promotion", func(s rollout.Status) bool {
		return s.Phase == rollout.PhaseAwaitApproval && len(s.ApprovedBy) == 1
	})
	e.signalCLI(t, id, rollout.SignalAbort, `{"by": "pat", "reason": "too little traffic to trust"}`)
	res, err := control.Wait(ctx, e.c, id)
	require.NoError(t, err)
	assert.Equal(t, rollout.PhaseRolledBack, res.Phase)
	assert.Equal(t, "aborted by pat: too little traffic to trust", res.Reason)
	replayAndCapture(ctx, t, e.c, "sequential-undecided-approved-aborted", id, "")
}

// A rule undecided past its own limit pauses the steps for a person; the
// person's promote (an Update) takes the rollout on. Captured for replay.
func TestARuleUndecidedPastItsLimitPausesForAPersonOnARealServer(t *testing.T) {
	e := startEngine(t)
	e.metrics.ByApp["stuck-rule"] = thin
	e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := quickSpec("stuck-rule")
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(time.Minute), rollout.Weight(50), rollout.Hold(time.Minute)}
	two := 2
	spec.Analysis.Judging = rollout.Judging{Method: rollout.MethodSequential,
		Rules: map[string]rollout.RuleLimits{rollout.RuleErrorIncrease: {MaxInconclusive: &two}}}
	run, err := control.Start(ctx, e.c, spec, "it")
	require.NoError(t, err)
	id := run.GetID()

	s := e.waitFor(ctx, t, id, "paused for a person", func(s rollout.Status) bool { return s.Paused })
	var undecided string
	for _, ev := range s.Events {
		if ev.Kind == "undecided" {
			undecided = ev.Message
		}
	}
	assert.Contains(t, undecided, "error-increase undecided 3 looks in a row (limit 2)")
	answer, err := control.Act(ctx, e.c, id, rollout.SignalPromote, rollout.Actor{By: "pat"})
	require.NoError(t, err)
	assert.Equal(t, "remaining steps skipped: promoting now", answer)
	res, err := control.Wait(ctx, e.c, id)
	require.NoError(t, err)
	assert.Equal(t, rollout.PhasePromoted, res.Phase, res.Reason)
	replayAndCapture(ctx, t, e.c, "sequential-rule-undecided-paused-promoted", id, "")
}
