package workflows

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	"github.com/canaryflow/canaryflow/rollout"
)

func TestPromotesThroughEveryStepInOrder(t *testing.T) {
	h := newHarness(t, nil)
	h.run(testSpec())
	h.requirePromoted()

	assert.Equal(t, []int{0, 10, 25, 50, 0}, h.router.History())
	assert.Equal(t, []string{"deploy canary v2", "deploy stable v2", "remove canary"}, h.deploy.Calls())
	s := h.status()
	var steps []string
	for _, e := range s.Events {
		if e.Kind == "step" {
			steps = append(steps, e.Message)
		}
	}
	assert.Equal(t, []string{
		"step 1/6: setWeight 10", "step 2/6: pause 15m0s", "step 3/6: setWeight 25",
		"step 4/6: pause 10m0s", "step 5/6: setWeight 50", "step 6/6: pause 15m0s",
	}, steps)
	// One measurement a minute through 40 minutes of holds.
	assert.InDelta(t, 40, h.metrics.Calls(), 2)
	assert.Equal(t, rollout.PhasePromoted, s.Phase)
	assert.Equal(t, "stable now runs v2", s.Events[len(s.Events)-1].Message)
	assert.Equal(t, []string{"started", "step", "step", "step", "step", "step", "step", "promoted"}, h.notes.Events())
	assert.Equal(t, []string{"", "thread-1", "thread-1", "thread-1", "thread-1", "thread-1", "thread-1", "thread-1"}, h.notes.Threads(),
		"the first message starts the rollout's thread; every later one goes into it")
}

// degradeAfter is healthy for n measurements, then bad.
func degradeAfter(n int, bad rollout.Sample) metricsmem.Script {
	return func(i int) (rollout.Sample, error) {
		if i > n {
			return bad, nil
		}
		return metricsmem.Healthy(), nil
	}
}

func TestRollsBackOnEachDefaultTrigger(t *testing.T) {
	cases := []struct {
		name   string
		canary func(c *rollout.VersionFigures)
		want   string
	}{
		{"error rate above 5%", func(c *rollout.VersionFigures) { c.ErrorRate = 0.08 }, "canary error rate 8.00% > 5.00%"},
		{"p95 above 2s", func(c *rollout.VersionFigures) { c.P95 = 2.5 }, "canary p95 2.5s > 2s"},
		{"error rate 3 points above stable", func(c *rollout.VersionFigures) { c.ErrorRate = 0.045 }, "canary error rate 4.50% > stable 1.00% + 3.00 points"},
		{"latency 1.5x stable", func(c *rollout.VersionFigures) { c.P95 = 0.3 }, "canary p95 300ms > 1.5 × stable p95 120ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, degradeAfter(17, metricsmem.With(tc.canary)))
			h.run(testSpec())
			reason := h.requireRolledBack()
			assert.Contains(t, reason, tc.want)
			assert.Contains(t, reason, "analysis failed at 25% canary weight")
			// Measurement 18 comes at minute 18, during the 25 % hold: no later weight was ever set.
			assert.Equal(t, []int{0, 10, 25, 0}, h.router.History())
			s := h.status()
			last, ok := s.LastMeasurement()
			require.True(t, ok)
			assert.Equal(t, rollout.Failed, last.Verdict)
			assert.NotEmpty(t, last.Sample.Queries)
			assert.Equal(t, rollout.PhaseRolledBack, s.Phase)
		})
	}
}

func TestAbort(t *testing.T) {
	cases := []struct {
		name  string
		steps []rollout.Step
		at    time.Duration
		phase rollout.Phase
	}{
		{"during a hold", nil, 20 * time.Minute, rollout.PhaseProgressing},
		{"during an analysis gate", []rollout.Step{rollout.Weight(10), rollout.Gate(10)}, 5 * time.Minute, rollout.PhaseProgressing},
		{"while waiting for approval", []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, "")}, 3 * time.Hour, rollout.PhaseAwaitApproval},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			spec := testSpec()
			spec.Steps = tc.steps
			h.at(tc.at-time.Second, func() { assert.Equal(t, tc.phase, h.status().Phase) })
			h.signal(tc.at, rollout.SignalAbort, rollout.Abort{Reason: "bad vibes", By: "alice"})
			h.run(spec)
			assert.Equal(t, "aborted by alice: bad vibes", h.requireRolledBack())
			assert.NotContains(t, h.deploy.Calls(), "deploy stable v2", "an abort before promotion never touches stable")
			s := h.status()
			assert.Contains(t, eventKinds(s), "stopping")
			assert.Equal(t, "alice", s.Events[indexOf(eventKinds(s), "stopping")].By)
		})
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestApprovalGateWaitsThenProceeds(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, ""), rollout.Weight(50), rollout.Hold(5 * time.Minute)}
	wrong := 3
	right := 2
	h.at(2*time.Hour, func() {
		s := h.status()
		assert.Equal(t, rollout.PhaseAwaitApproval, s.Phase)
		assert.Equal(t, 2, s.Step)
		assert.Equal(t, 10, s.Weight)
		assert.Equal(t, []int{0, 10}, h.router.History(), "nothing moves while waiting")
	})
	h.signal(2*time.Hour+time.Minute, rollout.SignalApprove, rollout.Approval{Step: &wrong, By: "mallory"})
	h.signal(3*time.Hour, rollout.SignalApprove, rollout.Approval{Step: &right, By: "bob"})
	h.run(spec)
	h.requirePromoted()
	s := h.status()
	assert.Equal(t, []string{"bob"}, s.ApprovedBy)
	assert.Equal(t, []int{0, 10, 50, 0}, h.router.History())
	assert.Contains(t, h.notes.Events(), "approval-needed")
	ignored := s.Events[indexOf(eventKinds(s), "ignored")]
	assert.Equal(t, "approve ignored: it names step 3 but step 2 is waiting", ignored.Message)
	assert.Equal(t, "mallory", ignored.By)
	approved := s.Events[indexOf(eventKinds(s), "approved")]
	assert.Equal(t, "bob", approved.By)
	assert.WithinDuration(t, s.Events[0].At.Add(3*time.Hour), approved.At, time.Minute)
}

func TestApprovalTimeout(t *testing.T) {
	t.Run("abort", func(t *testing.T) {
		h := newHarness(t, nil)
		spec := testSpec()
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(30*time.Minute, rollout.OnTimeoutAbort), rollout.Weight(50)}
		h.run(spec)
		assert.Equal(t, "approval of step 2 not given within 30m0s", h.requireRolledBack())
		assert.Equal(t, []int{0, 10, 0}, h.router.History())
	})
	t.Run("proceed", func(t *testing.T) {
		h := newHarness(t, nil)
		spec := testSpec()
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(30*time.Minute, rollout.OnTimeoutProceed), rollout.Weight(50)}
		h.run(spec)
		h.requirePromoted()
		assert.Equal(t, []int{0, 10, 50, 0}, h.router.History())
		assert.Contains(t, eventKinds(h.status()), "approval-timeout")
	})
}

func TestSmokeFailureRollsBackBeforeTrafficMoves(t *testing.T) {
	h := newHarness(t, nil)
	report := rollout.SmokeReport{Checks: []rollout.SmokeCheck{
		{Name: "health", Passed: true, Figure: "status 200"},
		{Name: "error rate", Passed: false, Figure: "4/20 errors (20.0%)", Detail: "max 5%"},
	}}
	h.env.OnActivity(h.acts.SmokeTest, anyCtx, anyArg).Return(report, nil)
	spec := testSpec()
	spec.Smoke = rollout.Smoke{BaseURL: "http://127.0.0.1:1"}
	h.run(spec)
	reason := h.requireRolledBack()
	assert.Equal(t, "smoke tests failed: error rate: 4/20 errors (20.0%) (max 5%)", reason)
	assert.Equal(t, []int{0, 0}, h.router.History(), "weight 0 read back before the deploy, and 0 again in rollback: no traffic may move before smoke tests pass")
	assert.Zero(t, h.metrics.Calls())
	require.NotNil(t, h.status().Smoke)
	assert.Len(t, h.status().Smoke.Checks, 2)
}

func TestStatusQuery(t *testing.T) {
	h := newHarness(t, nil)
	h.at(12*time.Minute+30*time.Second, func() {
		s := h.status()
		assert.Equal(t, "shop", s.App)
		assert.Equal(t, "prod", s.Namespace)
		assert.Equal(t, rollout.PhaseProgressing, s.Phase)
		assert.Equal(t, 2, s.Step)
		assert.Equal(t, 6, s.StepCount)
		assert.Equal(t, "pause 15m0s", s.StepName)
		assert.Equal(t, 10, s.Weight)
		assert.False(t, s.StepStartedAt.IsZero())
		require.Len(t, s.Measurements, 12)
		m := s.Measurements[11]
		assert.Equal(t, rollout.Successful, m.Verdict)
		assert.Equal(t, 10, m.Weight)
		assert.Equal(t, 10.0, float64(m.Sample.Canary.RequestRate))
		assert.Equal(t, "memory", m.Sample.Queries["canary.errorRate"])
		assert.Equal(t, []string{"started", "weight", "ready", "smoke", "step", "weight", "step"}, eventKinds(s))
	})
	h.run(testSpec())
	h.requirePromoted()
}

func TestInvalidSpecIsRejectedBeforeAnythingIsTouched(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	spec.App = "Bad_Name"
	spec.Steps = []rollout.Step{rollout.Weight(50), rollout.Weight(20), rollout.Weight(120)}
	h.run(spec)
	err := h.env.GetWorkflowError()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	assert.Equal(t, ErrTypeInvalidSpec, app.Type())
	assert.True(t, app.NonRetryable())
	for _, want := range []string{"app:", "steps[1].setWeight: must not decrease: 20 follows 50", "steps[2].setWeight: must be between 1 and 100, got 120"} {
		assert.Contains(t, app.Error(), want)
	}
	assert.Empty(t, h.router.History())
	assert.Empty(t, h.deploy.Calls())
	assert.Equal(t, rollout.PhaseRejected, h.status().Phase)
}

func TestPromoteSignalSkipsRemainingSteps(t *testing.T) {
	h := newHarness(t, nil)
	h.signal(5*time.Minute, rollout.SignalPromote, rollout.Actor{By: "carol"})
	h.run(testSpec())
	h.requirePromoted()
	assert.Equal(t, []int{0, 10, 0}, h.router.History())
	s := h.status()
	assert.Contains(t, eventKinds(s), "skipped")
	assert.Less(t, s.Events[len(s.Events)-1].At.Sub(s.Events[0].At), 10*time.Minute)
}

func TestPauseHoldsStepsUntilResume(t *testing.T) {
	h := newHarness(t, nil)
	h.signal(14*time.Minute, rollout.SignalPause, rollout.Actor{By: "dave"})
	h.signal(15*time.Minute, rollout.SignalPause, rollout.Actor{By: "dave"})
	h.at(2*time.Hour, func() {
		s := h.status()
		assert.True(t, s.Paused)
		assert.Equal(t, rollout.PhasePaused, s.Phase)
		assert.Equal(t, 10, s.Weight, "no step may advance while paused")
	})
	h.signal(3*time.Hour, rollout.SignalResume, rollout.Actor{By: "dave"})
	h.run(testSpec())
	h.requirePromoted()
	s := h.status()
	kinds := eventKinds(s)
	assert.Contains(t, kinds, "pause")
	assert.Contains(t, kinds, "resume")
	assert.Contains(t, s.Events[indexOf(kinds, "ignored")].Message, "already paused")
	assert.Greater(t, s.Events[len(s.Events)-1].At.Sub(s.Events[0].At), 3*time.Hour)
}

func TestSignalsThatDoNotApplyAreRecorded(t *testing.T) {
	h := newHarness(t, nil)
	h.signal(3*time.Minute, rollout.SignalApprove, rollout.Approval{By: "erin"})
	h.signal(3*time.Minute+time.Second, rollout.SignalResume, rollout.Actor{By: "erin"})
	h.run(testSpec())
	h.requirePromoted()
	s := h.status()
	var msgs []string
	for _, e := range s.Events {
		if e.Kind == "ignored" {
			msgs = append(msgs, e.Message)
		}
	}
	require.Len(t, msgs, 2)
	// The refusal says what the rollout is doing instead, e.g. "step 2/4 is
	// a timed hold (pause 5m0s), 2m0s left".
	assert.Regexp(t, `^approve ignored: nothing waits for approval; step \d/\d`, msgs[0])
	assert.Equal(t, "resume ignored: the rollout is already running", msgs[1])
	assert.Empty(t, s.ApprovedBy)
}

func TestRouterRefusingAWeightRollsBack(t *testing.T) {
	h := newHarness(t, nil)
	h.router.Refuse = func(w int) error {
		if w > 20 {
			return fmt.Errorf("router refuses weight %d above 20: %w", w, rollout.ErrPermanent)
		}
		return nil
	}
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "setting canary weight to 25: router refuses weight 25 above 20")
	assert.Contains(t, reason, "router refuses weight 25 above 20")
	assert.Equal(t, []int{0, 10, 0}, h.router.History())
}

func TestPromoteWhilePausedSkipsTheRemainingSteps(t *testing.T) {
	h := newHarness(t, nil)
	h.signal(14*time.Minute, rollout.SignalPause, rollout.Actor{By: "dave"})
	h.signal(20*time.Minute, rollout.SignalPromote, rollout.Actor{By: "carol"})
	h.run(testSpec())
	h.requirePromoted()
	assert.Equal(t, []int{0, 10, 0}, h.router.History(), "no further weight after promote")
}
