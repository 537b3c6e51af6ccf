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
	assert.Equal(t, []int{10, 25, 50, 0}, h.router.History())
}
