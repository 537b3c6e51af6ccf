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
	// One test per rule across the rollout: the last look pools the 10 %
	// weight's counts with the 50 % weight's.
	assert.Contains(t, m.Rules[0].Reason, "canary 100/10000 errors")
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

// Revision 2: the judge's own limits roll back, with the judge's cause, and
// a failed look is not also counted by the workflow's global limit.
func TestRevision2RollsBackOnTheJudgesCause(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) { return counted(5000, 1000), nil }) // 20 % errors
	h.run(sequentialSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "analysis failed at 10% canary weight")
	assert.Contains(t, reason, "error")
	assert.Equal(t, []int{0, 10, 0}, h.router.History(), "rolled back at the first weight")
}

// A rule that stays undecided past its own maxInconclusive hands the
// rollout to a person: the steps pause; resume continues to promotion.
func TestRevision2ARuleUndecidedPastItsLimitPausesForAPerson(t *testing.T) {
	// 40 canary requests a look: too few for any rule to decide.
	h := newHarness(t, func(n int) (rollout.Sample, error) { return counted(40, 0), nil })
	spec := sequentialSpec()
	two := 2
	spec.Analysis.Judging.Rules = map[string]rollout.RuleLimits{rollout.RuleErrorIncrease: {MaxInconclusive: &two}}
	h.at(30*time.Minute, func() {
		s := h.status()
		assert.True(t, s.Paused, "paused for a person; phase %s", s.Phase)
		assert.Contains(t, eventKinds(s), "undecided")
		h.env.SignalWorkflow(rollout.SignalPromote, rollout.Actor{By: "sre"})
	})
	h.run(spec)
	h.requirePromoted()
}

func TestRevision2OnInconclusiveRollbackRollsBackARuleUndecidedPastItsLimit(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) { return counted(40, 0), nil })
	spec := sequentialSpec()
	two := 2
	spec.Analysis.Judging.Rules = map[string]rollout.RuleLimits{rollout.RuleErrorIncrease: {MaxInconclusive: &two}}
	spec.Analysis.Judging.OnInconclusive = rollout.OnInconclusiveRollback
	h.run(spec)
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "error-increase undecided 3 looks in a row (limit 2)")
}
