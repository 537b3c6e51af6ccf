package workflows

import (
	"errors"
	"fmt"
	"strings"
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

	assert.Equal(t, []int{10, 25, 50, 0}, h.router.History())
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
	assert.Equal(t, []string{"started", "promoted"}, h.notes.Events())
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
			assert.Equal(t, []int{10, 25, 0}, h.router.History())
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
			hist := h.router.History()
			assert.NotContains(t, hist[:len(hist)-1], 100)
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
		assert.Equal(t, []int{10}, h.router.History(), "nothing moves while waiting")
	})
	h.signal(2*time.Hour+time.Minute, rollout.SignalApprove, rollout.Approval{Step: &wrong, By: "mallory"})
	h.signal(3*time.Hour, rollout.SignalApprove, rollout.Approval{Step: &right, By: "bob"})
	h.run(spec)
	h.requirePromoted()
	s := h.status()
	assert.Equal(t, []string{"bob"}, s.ApprovedBy)
	assert.Equal(t, []int{10, 50, 0}, h.router.History())
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
		assert.Equal(t, []int{10, 0}, h.router.History())
	})
	t.Run("proceed", func(t *testing.T) {
		h := newHarness(t, nil)
		spec := testSpec()
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(30*time.Minute, rollout.OnTimeoutProceed), rollout.Weight(50)}
		h.run(spec)
		h.requirePromoted()
		assert.Equal(t, []int{10, 50, 0}, h.router.History())
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
	assert.Equal(t, []int{0}, h.router.History(), "no traffic may move before smoke tests pass")
	assert.Zero(t, h.metrics.Calls())
	require.NotNil(t, h.status().Smoke)
	assert.Len(t, h.status().Smoke.Checks, 2)
}

func TestDeployFailureCleansUp(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy.FailDeploy[rollout.RoleCanary] = fmt.Errorf("image pull: %w", rollout.ErrPermanent)
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "deploying canary v2")
	assert.Contains(t, reason, "image pull")
	assert.Equal(t, []int{0}, h.router.History())
}

func TestCanaryNeverReadyTimesOutAndCleansUp(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy.NeverReady[rollout.RoleCanary] = true
	spec := testSpec()
	spec.Deploy.ReadyTimeout = rollout.Duration(2 * time.Second)
	h.run(spec)
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "waiting for canary v2 to be ready")
}

func TestCancellationRunsCompensation(t *testing.T) {
	h := newHarness(t, nil)
	h.at(20*time.Minute, func() { h.env.CancelWorkflow() })
	h.run(testSpec())
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	require.True(t, errors.As(err, &canceled), "want cancelled, got %v", err)
	h.requireCompensated()
	s := h.status()
	assert.Equal(t, rollout.PhaseRolledBack, s.Phase)
	assert.Equal(t, "workflow cancelled", s.Reason)
	assert.Equal(t, []int{10, 25, 0}, h.router.History())
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
		assert.Equal(t, []string{"started", "ready", "smoke", "step", "weight", "step"}, eventKinds(s))
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

func TestTooLittleTrafficIsNeverAPass(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) {
		return metricsmem.With(func(c *rollout.VersionFigures) { c.RequestRate = 0.01 }), nil
	})
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "analysis inconclusive 4 times in a row at 10% canary weight (limit 3)")
	assert.Contains(t, reason, "too little canary traffic")
}

func TestMetricsErrorsRollBackAfterTheLimit(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) {
		return rollout.Sample{}, fmt.Errorf("dial tcp 10.0.0.1:9090: %w", rollout.ErrQueryFailed)
	})
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "metrics unavailable: 5 measurement errors in a row (limit 4)")
	assert.Contains(t, reason, "dial tcp")
}

func TestPromoteSignalSkipsRemainingSteps(t *testing.T) {
	h := newHarness(t, nil)
	h.signal(5*time.Minute, rollout.SignalPromote, rollout.Actor{By: "carol"})
	h.run(testSpec())
	h.requirePromoted()
	assert.Equal(t, []int{10, 0}, h.router.History())
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
	assert.Equal(t, []string{"approve ignored: no step is waiting for approval", "resume ignored: the rollout is already running"}, msgs)
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
	assert.Equal(t, []int{10, 0}, h.router.History())
}

func TestPreflightFailureTouchesNothing(t *testing.T) {
	h := newHarness(t, nil)
	h.metrics.CheckErr = fmt.Errorf("no series named nope_count: %w", rollout.ErrUnknownMetric)
	h.run(testSpec())
	var app *temporal.ApplicationError
	require.True(t, errors.As(h.env.GetWorkflowError(), &app))
	var res Result
	require.NoError(t, app.Details(&res))
	assert.Equal(t, rollout.PhaseRolledBack, res.Phase)
	assert.Contains(t, res.Reason, "preflight")
	assert.Contains(t, res.Reason, "nope_count")
	assert.Empty(t, h.deploy.Calls(), "nothing deployed, nothing removed")
	assert.Empty(t, h.router.History(), "no weight touched")
	assert.Contains(t, eventKinds(h.status()), "rollback")
}

func TestAMissingProviderIsRefusedWithoutCompensating(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	spec.Traffic.Kind = "nginx"
	h.run(spec)
	var app *temporal.ApplicationError
	require.True(t, errors.As(h.env.GetWorkflowError(), &app))
	var res Result
	require.NoError(t, app.Details(&res))
	assert.Equal(t, rollout.PhaseRolledBack, res.Phase, "nothing was touched, so nothing is left for a human")
	assert.Contains(t, res.Reason, `this worker has no traffic provider of kind "nginx" (it has: memory)`)
	assert.Empty(t, h.deploy.Calls())
}

func TestFailedPromotionRestoresStableBeforeMovingTraffic(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy.NotReady = func(role rollout.Role, version string) bool { return role == rollout.RoleStable && version == "v2" }
	spec := testSpec()
	spec.Deploy.ReadyTimeout = rollout.Duration(time.Second)
	h.run(spec)
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "waiting for stable v2 to be ready")
	assert.Equal(t, []string{"deploy canary v2", "deploy stable v2", "deploy stable v1", "remove canary"}, h.deploy.Calls())
	assert.Equal(t, []int{10, 25, 50, 0}, h.router.History(), "traffic returns to stable only once stable is restored")
}

func TestRollbackThatCannotRestoreStableEndsRollbackFailed(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy.NotReady = func(role rollout.Role, version string) bool { return role == rollout.RoleStable }
	spec := testSpec()
	spec.Deploy.ReadyTimeout = rollout.Duration(time.Second)
	h.run(spec)
	var app *temporal.ApplicationError
	require.True(t, errors.As(h.env.GetWorkflowError(), &app))
	var res Result
	require.NoError(t, app.Details(&res))
	assert.Equal(t, rollout.PhaseRollbackFailed, res.Phase)
	s := h.status()
	assert.Equal(t, rollout.PhaseRollbackFailed, s.Phase)
	assert.Contains(t, eventKinds(s), "rollback-failed")
	assert.Equal(t, []int{10, 25, 50}, h.router.History(), "traffic is not sent to a stable that is not ready")
	_, canary := h.deploy.Running(spec, rollout.RoleCanary)
	assert.True(t, canary, "the canary is kept: it is what serves")
	assert.Contains(t, h.notes.Events(), string(rollout.PhaseRollbackFailed))
}

func TestTheLastStretchIsJudgedBeforePromotion(t *testing.T) {
	// Measurement 40 covers the last minute of the last hold.
	h := newHarness(t, degradeAfter(39, metricsmem.With(func(c *rollout.VersionFigures) { c.ErrorRate = 0.5 })))
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "analysis failed at 50% canary weight")
	assert.Equal(t, []string{"deploy canary v2", "remove canary"}, h.deploy.Calls())
}

func TestPromotionNeedsASuccessfulMeasurementAtTheFinalWeight(t *testing.T) {
	t.Run("measured before promoting", func(t *testing.T) {
		h := newHarness(t, nil)
		spec := testSpec()
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(5 * time.Minute), rollout.Weight(50)}
		h.run(spec)
		h.requirePromoted()
		s := h.status()
		last, ok := s.LastMeasurement()
		require.True(t, ok)
		assert.Equal(t, 50, last.Weight)
		assert.Equal(t, rollout.Successful, last.Verdict)
	})
	t.Run("too little traffic at the end is not a pass", func(t *testing.T) {
		h := newHarness(t, func(n int) (rollout.Sample, error) {
			if n > 5 {
				return metricsmem.With(func(c *rollout.VersionFigures) { c.RequestRate = 0 }), nil
			}
			return metricsmem.Healthy(), nil
		})
		spec := testSpec()
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(5 * time.Minute), rollout.Weight(50)}
		h.run(spec)
		assert.Contains(t, h.requireRolledBack(), "inconclusive")
	})
}

func TestAGateIsNotDoubleCounted(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) {
		return metricsmem.With(func(c *rollout.VersionFigures) { c.RequestRate = 0.01 }), nil
	})
	spec := testSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Gate(5)}
	h.run(spec)
	h.requireRolledBack()
	s := h.status()
	require.Len(t, s.Measurements, 4, "maxInconclusive 3: the 4th in a row rolls back")
	for i := 1; i < len(s.Measurements); i++ {
		assert.Equal(t, time.Minute, s.Measurements[i].At.Sub(s.Measurements[i-1].At), "one measurement per interval")
	}
}

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
	assert.Equal(t, []int{10, 50, 0}, h.router.History(), "no weight set twice across runs")
	assert.Equal(t, []string{"deploy canary v2", "deploy stable v2", "remove canary"}, h.deploy.Calls(), "no redeploy")
	assert.Equal(t, []string{"bob"}, s.ApprovedBy)
	assert.Equal(t, 1, strings.Count(strings.Join(h.notes.Events(), ","), "approval-needed"), "asked once")
	kinds := eventKinds(s)
	assert.Equal(t, 2, strings.Count(strings.Join(kinds, ","), "continue-as-new"))
	assert.Equal(t, "started", kinds[0])
	hold := s.Events[indexOf(kinds, "promoted")].At.Sub(s.Events[indexOf(kinds, "approved")].At)
	assert.InDelta(t, 31*time.Minute, hold, float64(2*time.Minute), "the hold spans runs without restarting")
}
