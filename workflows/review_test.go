package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

func TestCancellingAContinuedRollbackFailedRunKeepsWaitingForAPerson(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	require.NoError(t, h.router.SetWeight(context.Background(), spec, 10))
	h.router.Refuse = func(w int) error { return fmt.Errorf("409: %w", rollout.ErrPermanent) }
	h.env.SetContinuedExecutionRunID("previous-run")
	h.at(time.Hour, func() {
		assert.Equal(t, rollout.PhaseRollbackFailed, h.status().Phase)
		h.env.CancelWorkflow()
	})
	h.at(2*time.Hour, func() {
		assert.False(t, h.env.IsWorkflowCompleted(), "a cancellation does not end the wait while traffic may reach the canary")
		h.env.SignalWorkflow(rollout.SignalResolve, rollout.Resolve{By: "ops", Reason: "weight set by hand"})
	})
	status := rollout.Status{App: "shop", Namespace: "prod", Weight: 10, Phase: rollout.PhaseRollbackFailed, Reason: "aborted"}
	h.runInput(Input{Spec: spec, RollbackRetryFor: rollout.Duration(time.Minute),
		Resume: &Resume{Step: 1, Status: status, Rollback: &RollbackState{Reason: "aborted", Reported: true}}})
	var app *temporal.ApplicationError
	require.True(t, errors.As(h.env.GetWorkflowError(), &app), "got %v", h.env.GetWorkflowError())
	assert.Equal(t, ErrTypeRollbackFailed, app.Type())
	require.NotNil(t, h.status().Resolution)
}

func TestAnApprovalOfTheFinalJudgementIsCarried(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10)}
	h.env.SetContinuedExecutionRunID("previous-run")
	status := rollout.Status{App: "shop", Namespace: "prod", Weight: 10, Phase: rollout.PhaseAwaitApproval, Step: 1}
	h.runInput(Input{Spec: spec, Resume: &Resume{Step: 1, Begun: true, Approved: []int{1}, Status: status}})
	require.NoError(t, h.env.GetWorkflowError(), "an approved final judgement is not refused as foreign state")
}

func TestTheFinalJudgementsExtensionRunsOutAcrossRuns(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) { return counted(12, 0), nil })
	spec := sequentialSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10)}
	spec.Analysis.Judging.MaxExtension = rollout.Duration(30 * time.Minute)
	spec.Analysis.Judging.OnInconclusive = rollout.OnInconclusiveRollback
	in := Input{Spec: spec, MeasurementsPerRun: 8}
	for range 10 {
		h.runInput(in)
		var next *workflow.ContinueAsNewError
		if !errors.As(h.env.GetWorkflowError(), &next) {
			break
		}
		in = h.continued()
	}
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "still undecided after holding 30m0s more")
}

func TestAWaitThatBeginsAfterContinuingAsNewStillAsksAPerson(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) { return counted(12, 0), nil })
	spec := sequentialSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(10 * time.Minute)}
	in := Input{Spec: spec, MeasurementsPerRun: 15} // continues during the extension
	h.runInput(in)
	in = h.continued()
	assert.NotEqual(t, rollout.PhaseAwaitApproval, in.Resume.Status.Phase)
	h.at(10*time.Minute, func() { // the extension ended 5 min into this run
		assert.Equal(t, rollout.PhaseAwaitApproval, h.status().Phase)
		h.env.SignalWorkflow(rollout.SignalAbort, rollout.Abort{By: "ops"})
	})
	h.runInput(in)
	h.requireRolledBack()
	assert.Contains(t, strings.Join(h.notes.Events(), ","), "approval-needed", "the person is asked")
}

func TestAPauseDuringTheFinalJudgementHoldsThePromotion(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) { return counted(12, 0), nil })
	spec := sequentialSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10)}
	spec.Analysis.Judging.MaxExtension = rollout.Duration(5 * time.Minute)
	h.signal(2*time.Minute, rollout.SignalPause, rollout.Actor{By: "ops"})
	h.at(10*time.Minute, func() {
		assert.Equal(t, rollout.PhaseAwaitApproval, h.status().Phase)
		one := 1 // the final judgement shows as the last step
		h.env.SignalWorkflow(rollout.SignalApprove, rollout.Approval{Step: &one, By: "ops"})
	})
	h.at(20*time.Minute, func() {
		assert.Equal(t, rollout.PhasePaused, h.status().Phase, "approved, but paused: no promotion yet")
		h.env.SignalWorkflow(rollout.SignalResume, rollout.Actor{By: "ops"})
	})
	h.run(spec)
	h.requirePromoted()
	assert.Equal(t, []string{"ops"}, h.status().ApprovedBy)
}

func TestARetrySentWhileTheFailureIsReportedIsNotLost(t *testing.T) {
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
	sent := false
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "WriteIncident" && !sent {
			// The person fixes the router and retries while the report is written.
			sent, broken = true, false
			h.env.SignalWorkflow(rollout.SignalRetryRollback, rollout.Actor{By: "ops"})
		}
	})
	h.signal(12*time.Minute, rollout.SignalAbort, rollout.Abort{Reason: "bad", By: "ops"})
	h.runInput(Input{Spec: testSpec(), RollbackRetryFor: rollout.Duration(time.Minute)})
	assert.Equal(t, "aborted by ops: bad", h.requireRolledBack())
	assert.Equal(t, 2, h.status().RollbackAttempts)
}
