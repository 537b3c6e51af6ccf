package workflows

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	"github.com/canaryflow/canaryflow/rollout"
)

// counted is a healthy sample carrying counts since the weight began:
// canary n requests with x errors, stable nine times as many at 1 %.
func counted(n, x float64) rollout.Sample {
	s := metricsmem.Healthy()
	version := func(n, x float64) rollout.VersionCounts {
		return rollout.VersionCounts{Requests: n, Errors: x, Buckets: []rollout.Bucket{
			{LE: 0.1, Count: n}, {LE: 2.5, Count: n}, {LE: rollout.Value(math.Inf(1)), Count: n},
		}}
	}
	s.Cumulative = &rollout.Counts{Canary: version(n, x), Stable: version(9*n, 0.09*n), Span: rollout.Duration(time.Minute)}
	return s
}

func sequentialSpec() rollout.Spec {
	s := testSpec()
	s.Analysis.Judging.Method = rollout.MethodSequential
	s.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(10 * time.Minute), rollout.Weight(50), rollout.Hold(10 * time.Minute)}
	return s
}

func TestSequentialJudgementPromotesOnEnoughHealthyData(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) { return counted(5000, 50), nil })
	h.run(sequentialSpec())
	h.requirePromoted()
	s := h.status()
	m, ok := s.LastMeasurement()
	require.True(t, ok)
	assert.Equal(t, rollout.Successful, m.Verdict)
	require.Len(t, m.Rules, 4, "each rule's judgement is kept with the measurement")
	assert.Contains(t, m.Rules[0].Reason, "canary 50/5000 errors")
	assert.Equal(t, 50, s.Judge.Weight)
}

func TestSequentialJudgementRollsBackOnStrongEvidence(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) { return counted(400, 60), nil })
	h.run(sequentialSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "canary 60/400 errors")
	assert.Contains(t, reason, "→ Failed")
}

func TestThinTrafficExtendsTheHoldThenWaitsForAPerson(t *testing.T) {
	// Twelve canary requests, no errors: never enough to pass or to fail.
	h := newHarness(t, func(n int) (rollout.Sample, error) { return counted(12, 0), nil })
	h.at(35*time.Minute, func() {
		s := h.status()
		assert.Equal(t, rollout.PhaseAwaitApproval, s.Phase, "undecided after the extension: a person decides")
		assert.Equal(t, 10, s.Weight)
		kinds := strings.Join(eventKinds(s), ",")
		assert.Contains(t, kinds, "extend")
		assert.Contains(t, kinds, "undecided")
		h.env.SignalWorkflow(rollout.SignalApprove, rollout.Approval{By: "pat"})
	})
	h.at(75*time.Minute, func() {
		assert.Equal(t, rollout.PhaseAwaitApproval, h.status().Phase, "50 % is undecided too")
		h.env.SignalWorkflow(rollout.SignalApprove, rollout.Approval{By: "pat"})
	})
	h.at(100*time.Minute, func() {
		assert.Equal(t, rollout.PhaseAwaitApproval, h.status().Phase, "the final judgement waits for a person too")
		h.env.SignalWorkflow(rollout.SignalAbort, rollout.Abort{By: "pat", Reason: "not enough traffic to trust"})
	})
	h.run(sequentialSpec())
	assert.Equal(t, "aborted by pat: not enough traffic to trust", h.requireRolledBack())
	for _, m := range h.status().Measurements {
		assert.NotEqual(t, rollout.Successful, m.Verdict, "thin data never passes")
	}
}

func TestThinTrafficRollsBackWhenTheSpecSaysSo(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) { return counted(12, 0), nil })
	spec := sequentialSpec()
	spec.Analysis.Judging.OnInconclusive = rollout.OnInconclusiveRollback
	spec.Analysis.Judging.MaxExtension = rollout.Duration(5 * time.Minute)
	h.run(spec)
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "10% still undecided after holding 5m0s more")
}

func TestWithoutCountsTheThresholdsStillJudge(t *testing.T) {
	h := newHarness(t, nil) // the memory source's samples carry rates only
	h.run(sequentialSpec())
	h.requirePromoted()
}
