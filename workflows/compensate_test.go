package workflows

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/canaryflow/canaryflow/rollout"
)

func TestFailedPromotionRestoresStableBeforeMovingTraffic(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy.NotReady = func(role rollout.Role, version string) bool { return role == rollout.RoleStable && version == "v2" }
	spec := testSpec()
	spec.Deploy.ReadyTimeout = rollout.Duration(time.Second)
	h.run(spec)
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "waiting for stable v2 to be ready")
	assert.Equal(t, []string{"deploy canary v2", "deploy stable v2", "deploy stable v1", "remove canary"}, h.deploy.Calls())
	assert.Equal(t, []int{0, 10, 25, 50, 0}, h.router.History(), "traffic returns to stable only once stable is restored")
}

func TestRollbackThatCannotRestoreStableWaitsForAPersonThenResolves(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy.NotReady = func(role rollout.Role, version string) bool { return role == rollout.RoleStable }
	spec := testSpec()
	spec.Deploy.ReadyTimeout = rollout.Duration(time.Second)
	// Promotion fails at 41 min; compensation retries restoring stable for
	// its 30-minute budget, then waits. At 3 h it is still waiting.
	h.at(3*time.Hour, func() {
		s := h.status()
		assert.Equal(t, rollout.PhaseRollbackFailed, s.Phase, "RollbackFailed does not end the workflow")
		require.NotEmpty(t, s.Left)
		assert.Contains(t, s.Left[0], "restoring stable v1")
		assert.Contains(t, eventKinds(s), "rollback-failed")
		assert.Contains(t, eventKinds(s), "retrying")
		assert.False(t, h.env.IsWorkflowCompleted())
		h.env.SignalWorkflow(rollout.SignalResolve, map[string]any{"by": "dana"}) // no reason: refused
		h.env.SignalWorkflow(rollout.SignalResolve, rollout.Resolve{By: "dana", Reason: "restored v1 by hand with kubectl"})
	})
	h.run(spec)
	var app *temporal.ApplicationError
	require.True(t, errors.As(h.env.GetWorkflowError(), &app))
	assert.Equal(t, ErrTypeRollbackFailed, app.Type())
	var res Result
	require.NoError(t, app.Details(&res))
	assert.Equal(t, rollout.PhaseRollbackFailed, res.Phase)
	assert.Contains(t, res.Reason, "resolved by dana: restored v1 by hand with kubectl")
	s := h.status()
	require.NotNil(t, s.Resolution)
	assert.Equal(t, "dana", s.Resolution.By)
	assert.Contains(t, eventKinds(s), "ignored", "a resolve without a reason is refused")
	assert.Equal(t, []int{0, 10, 25, 50}, h.router.History(), "traffic is not sent to a stable that is not ready")
	_, canary := h.deploy.Running(spec, rollout.RoleCanary)
	assert.True(t, canary, "the canary is kept: it is what serves")
	assert.Contains(t, h.notes.Events(), string(rollout.PhaseRollbackFailed))
}

func TestWeightZeroIsRetriedWhateverTheErrorUntilItSucceeds(t *testing.T) {
	h := newHarness(t, nil)
	zeros, calls := 0, 0
	// After the weight 0 before deploying, the router refuses weight 0 with a
	// permanent error (a 409) six times.
	h.router.Refuse = func(w int) error {
		if w != 0 {
			return nil
		}
		if zeros++; zeros == 1 {
			return nil
		}
		calls++
		if calls <= 6 {
			return fmt.Errorf("409 conflict: %w", rollout.ErrPermanent)
		}
		return nil
	}
	h.signal(12*time.Minute, rollout.SignalAbort, rollout.Abort{Reason: "bad", By: "ops"})
	h.run(testSpec())
	assert.Equal(t, "aborted by ops: bad", h.requireRolledBack())
	assert.Equal(t, 7, calls, "six refusals, then success")
	assert.Equal(t, []int{0, 10, 0}, h.router.History())
}

func TestRetryRollbackRunsCompensationAgain(t *testing.T) {
	h := newHarness(t, nil)
	broken, zeros := true, 0
	h.router.Refuse = func(w int) error {
		if w != 0 {
			return nil
		}
		if zeros++; zeros > 1 && broken {
			return fmt.Errorf("409 conflict: %w", rollout.ErrPermanent)
		}
		return nil
	}
	h.signal(12*time.Minute, rollout.SignalAbort, rollout.Abort{Reason: "bad", By: "ops"})
	h.at(2*time.Hour, func() {
		assert.Equal(t, rollout.PhaseRollbackFailed, h.status().Phase)
		assert.Equal(t, 10, h.status().Weight, "the weight it could not move is what status shows")
		broken = false
		h.env.SignalWorkflow(rollout.SignalRetryRollback, rollout.Actor{By: "ops"})
	})
	h.run(testSpec())
	assert.Equal(t, "aborted by ops: bad", h.requireRolledBack())
	s := h.status()
	assert.Equal(t, 2, s.RollbackAttempts)
	assert.Empty(t, s.Left)
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
	assert.Equal(t, []int{0, 10, 25, 0}, h.router.History())
}

func TestPreflightFailureTouchesNothing(t *testing.T) {
	h := newHarness(t, nil)
	h.metrics.CheckErr = fmt.Errorf("no series named nope_count: %w", rollout.ErrUnknownMetric)
	h.run(testSpec())
	var app *temporal.ApplicationError
	require.True(t, errors.As(h.env.GetWorkflowError(), &app))
	var res Result
	require.NoError(t, app.Details(&res))
	assert.Equal(t, ErrTypeRejected, app.Type())
	assert.Equal(t, rollout.PhaseRejected, res.Phase, "a refusal is not a rollback")
	assert.Contains(t, res.Reason, "preflight")
	assert.Contains(t, res.Reason, "nope_count")
	assert.Empty(t, res.IncidentReport, "nothing was touched: no incident")
	assert.Empty(t, h.deploy.Calls(), "nothing deployed, nothing removed")
	assert.Empty(t, h.router.History(), "no weight touched")
	assert.NotContains(t, eventKinds(h.status()), "rollback")
	assert.Empty(t, h.notes.Events(), "no critical notification for a refusal")
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
	assert.Equal(t, rollout.PhaseRejected, res.Phase, "nothing was touched, so nothing is left for a human")
	assert.Contains(t, res.Reason, `this worker has no traffic provider of kind "nginx" (it has: memory)`)
	assert.Empty(t, h.deploy.Calls())
}

func TestDeployFailureCleansUp(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy.FailDeploy[rollout.RoleCanary] = fmt.Errorf("image pull: %w", rollout.ErrPermanent)
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "deploying canary v2")
	assert.Contains(t, reason, "image pull")
	assert.Equal(t, []int{0, 0}, h.router.History())
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

func TestAbortDuringPromotionRestoresStable(t *testing.T) {
	h := newHarness(t, nil)
	// Stable never becomes ready at v2, so promotion is still waiting when the abort comes.
	h.deploy.NotReady = func(role rollout.Role, version string) bool { return role == rollout.RoleStable && version == "v2" }
	spec := testSpec()
	spec.Deploy.ReadyTimeout = rollout.Duration(time.Hour)
	h.at(41*time.Minute+200*time.Millisecond, func() {
		assert.Equal(t, rollout.PhasePromoting, h.status().Phase)
		h.env.SignalWorkflow(rollout.SignalAbort, rollout.Abort{Reason: "stable upgrade stuck", By: "erin"})
	})
	h.run(spec)
	assert.Equal(t, "aborted by erin: stable upgrade stuck", h.requireRolledBack())
	assert.Equal(t, []string{"deploy canary v2", "deploy stable v2", "deploy stable v1", "remove canary"}, h.deploy.Calls())
	assert.Equal(t, []int{0, 10, 25, 50, 0}, h.router.History())
}
