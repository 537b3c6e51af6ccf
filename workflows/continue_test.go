package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

func TestLongWaitsContinueAsNewWithoutLosingTheRollout(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, ""), rollout.Weight(50), rollout.Hold(30 * time.Minute)}
	// Run 1 waits for approval until 25 measurements, then continues as new.
	h.runInput(Input{Spec: spec, By: "test", MeasurementsPerRun: 25})
	in := h.continued()
	require.NotNil(t, in.Resume)
	assert.Equal(t, 1, in.Resume.Step)
	assert.True(t, in.Resume.Begun)
	assert.Equal(t, rollout.PhaseAwaitApproval, in.Resume.Status.Phase)
	assert.Len(t, in.Resume.Status.Measurements, 25)

	// Run 2 is approved, walks on, and continues again during the 30-minute hold.
	two := 2
	h.signal(10*time.Minute, rollout.SignalApprove, rollout.Approval{Step: &two, By: "bob"})
	h.runInput(in)
	in = h.continued()
	assert.Equal(t, 3, in.Resume.Step)
	assert.Equal(t, 50, in.Resume.Status.Weight)

	// Run 3 finishes the hold (counted from its start in run 2) and promotes.
	h.runInput(in)
	h.requirePromoted()
	s := h.status()
	assert.Equal(t, []int{0, 10, 50, 0}, h.router.History(), "no weight set twice across runs")
	assert.Equal(t, []string{"deploy canary v2", "deploy stable v2", "remove canary"}, h.deploy.Calls(), "no redeploy")
	assert.Equal(t, []string{"bob"}, s.ApprovedBy)
	assert.Equal(t, 1, strings.Count(strings.Join(h.notes.Events(), ","), "approval-needed"), "asked once")
	kinds := eventKinds(s)
	assert.Equal(t, 2, strings.Count(strings.Join(kinds, ","), "continue-as-new"))
	assert.Equal(t, "started", kinds[0])
	hold := s.Events[indexOf(kinds, "promoted")].At.Sub(s.Events[indexOf(kinds, "approved")].At)
	assert.InDelta(t, 31*time.Minute, hold, float64(2*time.Minute), "the hold spans runs without restarting")
}

func TestAPausedRolloutResumesItsStepWithoutAskingTwice(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, ""), rollout.Weight(50)}
	h.signal(5*time.Minute, rollout.SignalPause, rollout.Actor{By: "dave"})
	h.runInput(Input{Spec: spec, By: "test", MeasurementsPerRun: 25})
	in := h.continued()
	assert.True(t, in.Resume.Begun)
	assert.True(t, in.Resume.Status.Paused)

	two := 2
	h.signal(5*time.Minute, rollout.SignalApprove, rollout.Approval{Step: &two, By: "bob"})
	h.signal(6*time.Minute, rollout.SignalResume, rollout.Actor{By: "dave"})
	h.runInput(in)
	h.requirePromoted()
	s := h.status()
	assert.Equal(t, []string{"bob"}, s.ApprovedBy, "the resumed approval wait takes the approval")
	assert.Equal(t, 1, strings.Count(strings.Join(h.notes.Events(), ","), "approval-needed"), "asked once")
	var steps []string
	for _, e := range s.Events {
		if e.Kind == "step" {
			steps = append(steps, e.Message)
		}
	}
	assert.Equal(t, []string{"step 1/3: setWeight 10", "step 2/3: pause until approved", "step 3/3: setWeight 50"}, steps, "each step begun once")
}

// A signal that arrives while the last notifications of a run are still
// going out (the notifier is slow) is applied to the state handed to the
// next run, not lost between the two.
func TestASignalDuringTheLastNotificationsIsCarriedIntoTheNextRun(t *testing.T) {
	h := newHarness(t, nil)
	// Every notification takes 40 s: at the hand-over some are still queued.
	h.env.OnActivity(h.acts.Notify, anyCtx, anyArg, anyArg).After(40*time.Second).Return("thread-1", nil)
	spec := testSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, ""), rollout.Weight(50), rollout.Hold(30 * time.Minute)}
	var sentDuringFlush bool
	// Two measurements (minutes 1 and 2) and the run continues as new; the
	// outbox is still busy then, so the run waits for it, and the approve
	// comes during that wait.
	h.at(2*time.Minute+5*time.Second, func() {
		s := h.status()
		sentDuringFlush = s.Phase == rollout.PhaseAwaitApproval
		two := 2
		h.env.SignalWorkflow(rollout.SignalApprove, rollout.Approval{Step: &two, By: "late"})
	})
	h.runInput(Input{Spec: spec, By: "test", MeasurementsPerRun: 2})
	in := h.continued()
	require.True(t, sentDuringFlush, "the approve came while the run was handing over")
	require.NotNil(t, in.Resume)
	assert.Equal(t, []int{1}, in.Resume.Approved, "the approval reached the next run")
	assert.Contains(t, in.Resume.Status.ApprovedBy, "late")
}
