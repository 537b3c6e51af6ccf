package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// nameless is the sequential test plan with no method named: what a spec
// that says nothing about judgement gets.
func nameless() rollout.Spec {
	s := sequentialSpec()
	s.Analysis.Judging.Method = ""
	return s
}

func TestASpecNamingNoMethodIsJudgedSequentially(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) { return counted(5000, 50), nil })
	h.run(nameless())
	h.requirePromoted()
	s := h.status()
	for _, m := range s.Measurements {
		require.Len(t, m.Rules, 4, "judged by the sequential judge: %+v", m)
	}
	// The final judgement waits for a fresh look; that is no extension.
	assert.NotContains(t, eventKinds(s), "extend")
}

func TestBeforeJudgeRevision3ANamelessMethodIsThresholds(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) { return counted(5000, 50), nil })
	h.env.OnGetVersion(versionJudgeRevision3, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.run(nameless())
	h.requirePromoted()
	ms := h.status().Measurements
	require.NotEmpty(t, ms)
	for _, m := range ms {
		assert.Empty(t, m.Rules, "a rollout started before the change keeps the thresholds it started with")
	}
}

// Counts that look fine since the weight began can hide a fault that
// started a minute ago; the recent look judges the last window alone.
func TestAFaultInTheLastWindowRollsBackAtOnce(t *testing.T) {
	const faultAt = 5
	h := newHarness(t, func(n int) (rollout.Sample, error) { return windowFaultFrom(faultAt, n), nil })
	h.run(sequentialSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "over the last 1m0s alone: canary 400/2000")
	s := h.status()
	assert.Equal(t, faultAt, s.MeasurementsTaken, "rolled back at the first look that saw the fault")
	m, ok := s.LastMeasurement()
	require.True(t, ok)
	var recent []string
	for _, r := range m.Rules {
		if r.Window != 0 {
			recent = append(recent, r.Rule)
		}
	}
	assert.Contains(t, recent, rollout.RuleErrorRate, "the rule failed on the window is marked with it")
}

// The same fault with judge revision 2 (no recent look) is diluted by the
// healthy counts before it and not rolled back at that look.
func TestWithoutTheRecentLookTheSameFaultIsDiluted(t *testing.T) {
	const faultAt = 5
	h := newHarness(t, func(n int) (rollout.Sample, error) { return windowFaultFrom(faultAt, n), nil })
	h.env.OnGetVersion(versionJudgeRevision3, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.run(sequentialSpec())
	h.requirePromoted()
}

// A look taken before the final judgement began can miss up to an interval
// of the canary's last traffic: the judgement waits for a new one.
func TestTheFinalJudgementNeedsALookBegunSinceItStarted(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) {
		return lastStretchBad(n), nil
	})
	h.run(sequentialSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "50% canary weight")
	s := h.status()
	assert.True(t, strings.Contains(strings.Join(eventKinds(s), ","), "gate"), "the final judgement began")
}

func TestTheFinalJudgementAcceptedAStaleLookBeforeRevision3(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) {
		return lastStretchBad(n), nil
	})
	h.env.OnGetVersion(versionJudgeRevision3, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.run(sequentialSpec())
	h.requirePromoted()
}

// lastStretchBad is healthy until the 50 % hold's end (minute 20), then 15 %
// errors in the window.
func lastStretchBad(n int) rollout.Sample {
	s := counted(5000, 50)
	win := counted(1000, 10)
	if n >= 20 {
		win = counted(400, 60)
	}
	s.Window = win.Cumulative
	return s
}

// A sequential rollout judged by revision 2 that continues as new under
// code with revision 3 keeps revision 2: the window fault that revision 3
// would roll back at once is not judged on the window.
func TestARolloutContinuedAsNewKeepsItsJudgeRevision(t *testing.T) {
	spec := sequentialSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(30 * time.Minute)}
	// Run 1 takes 5 looks; the window turns bad in run 2.
	h := newHarness(t, func(n int) (rollout.Sample, error) { return windowFaultFrom(6, n), nil })
	h.env.OnGetVersion(versionJudgeRevision3, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.runInput(Input{Spec: spec, By: "test", MeasurementsPerRun: 5})
	in := h.continued()
	require.NotNil(t, in.Resume)
	require.NotEmpty(t, in.Resume.Status.Judge.MinP, "run 1 judged by revision 2")
	assert.Zero(t, in.Resume.Status.Judge.Revision)

	// Fresh histories: GetVersion gives revision 3 in each of the next runs.
	for runs := 2; ; runs++ {
		require.Less(t, runs, 20, "the rollout ends")
		h.runInput(in)
		var next *workflow.ContinueAsNewError
		if !errors.As(h.env.GetWorkflowError(), &next) {
			break
		}
		in = h.continued()
	}
	h.requirePromoted()
	for _, m := range h.status().Measurements {
		for _, r := range m.Rules {
			assert.Zero(t, r.Window, "no rule judged on the window alone")
		}
	}

	// The same faults in a rollout that started with revision 3 roll back.
	h3 := newHarness(t, func(n int) (rollout.Sample, error) { return windowFaultFrom(1, n), nil })
	h3.runInput(Input{Spec: spec, By: "test", MeasurementsPerRun: 5})
	assert.Contains(t, h3.requireRolledBack(), "alone")
}

// windowFaultFrom is 1 % errors since the weight began and in the window
// and, from look from on, 20 % errors in the last window.
func windowFaultFrom(from, n int) rollout.Sample {
	s := counted(float64(20000*n), float64(200*n))
	win := counted(2000, 20)
	if n >= from {
		win = counted(2000, 400)
	}
	s.Window = win.Cumulative
	return s
}
