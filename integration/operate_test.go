package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

// updateEvents counts the Update events in a run's history.
func updateEvents(ctx context.Context, t *testing.T, e *engine, id string) (accepted, completed, other int) {
	t.Helper()
	it := e.c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			accepted++
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
			completed++
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED:
			other++
		}
	}
	return accepted, completed, other
}

func TestUpdatesAnswerAndRefusalsLeaveNoEventOnARealServer(t *testing.T) {
	e := startEngine(t)
	e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	spec := quickSpec("asked")
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(2 * time.Second), rollout.ApprovalGate(0, ""), rollout.Weight(50), rollout.Hold(time.Minute)}
	run, err := control.Start(ctx, e.c, spec, "it")
	require.NoError(t, err)
	id := run.GetID()

	e.waitFor(ctx, t, id, "the hold", func(s rollout.Status) bool { return s.Step == 2 })
	_, err = control.Act(ctx, e.c, id, rollout.SignalApprove, rollout.Approval{By: "ann"})
	require.ErrorIs(t, err, control.ErrRefused)
	assert.Contains(t, err.Error(), "nothing waits for approval; step 2/5 is a timed hold")
	// The temporal CLI gets the same refusal.
	bin, err := devstack.Binary("", "temporal")
	require.NoError(t, err)
	out, err := exec.CommandContext(ctx, bin, "workflow", "update", "execute", "--workflow-id", id, "--name", rollout.SignalApprove,
		"--input", `{"by":"cli"}`, "--address", e.srv.Address(), "--namespace", e.srv.Namespace()).CombinedOutput()
	require.Error(t, err, "temporal workflow update execute: %s", out)
	assert.Contains(t, string(out), "nothing waits for approval")
	_, err = control.Act(ctx, e.c, id, rollout.SignalResolve, rollout.Resolve{By: "ann", Reason: "x"})
	require.ErrorIs(t, err, control.ErrRefused)
	_, err = control.Act(ctx, e.c, id, "approve; drop", rollout.Approval{})
	require.Error(t, err)
	assert.NotErrorIs(t, err, control.ErrRefused, "an unknown action is refused before it is sent")

	e.waitFor(ctx, t, id, "the approval wait", func(s rollout.Status) bool { return s.Phase == rollout.PhaseAwaitApproval })
	wrong := 4
	_, err = control.Act(ctx, e.c, id, rollout.SignalApprove, rollout.Approval{Step: &wrong, By: "ann"})
	require.ErrorIs(t, err, control.ErrRefused)
	assert.Contains(t, err.Error(), "it names step 4 but step 3 is waiting")
	// A signal still works beside the Updates, for webhooks and the temporal CLI.
	require.NoError(t, control.Signal(ctx, e.c, id, rollout.SignalPause, rollout.Actor{By: "bo"}))
	three := 3
	answer, err := control.Act(ctx, e.c, id, rollout.SignalApprove, rollout.Approval{Step: &three, By: "ann"})
	require.NoError(t, err)
	assert.Equal(t, "step 3 approved by ann; the rollout continues", answer)
	e.waitFor(ctx, t, id, "paused before step 4", func(s rollout.Status) bool { return s.Phase == rollout.PhasePaused })
	_, err = control.Act(ctx, e.c, id, rollout.SignalPause, rollout.Actor{By: "bo"})
	require.ErrorIs(t, err, control.ErrRefused)
	assert.Contains(t, err.Error(), "already paused")
	answer, err = control.Act(ctx, e.c, id, rollout.SignalResume, rollout.Actor{By: "bo"})
	require.NoError(t, err)
	assert.Equal(t, "steps resumed", answer)
	e.waitFor(ctx, t, id, "the last hold", func(s rollout.Status) bool { return s.Step == 5 })
	answer, err = control.Act(ctx, e.c, id, rollout.SignalPromote, rollout.Actor{By: "cy"})
	require.NoError(t, err)
	assert.Equal(t, "remaining steps skipped: promoting now", answer)

	res, err := control.Wait(ctx, e.c, id)
	require.NoError(t, err)
	require.Equal(t, rollout.PhasePromoted, res.Phase)
	_, err = control.Act(ctx, e.c, id, rollout.SignalAbort, rollout.Abort{By: "late"})
	require.Error(t, err, "an ended rollout takes no Update")

	accepted, completed, other := updateEvents(ctx, t, e, id)
	assert.Equal(t, 3, accepted, "approve, resume and promote were accepted")
	assert.Equal(t, 3, completed)
	assert.Zero(t, other, "the five refusals left nothing in history")
	s, err := control.Status(ctx, e.c, id)
	require.NoError(t, err)
	for _, ev := range s.Events {
		assert.NotEqual(t, "ignored", ev.Kind, "a refused Update is not an ignored signal: %s", ev.Message)
	}
	replayAndCapture(ctx, t, e.c, "updates-refused-approved-promoted", id, "")
}

// listed runs `temporal workflow list --query q` and returns the run IDs it printed.
func (e *engine) listed(t *testing.T, q string) []string {
	t.Helper()
	out := e.temporalCLI(t, "workflow", "list", "--query", q, "--output", "json")
	var rows []struct {
		Execution struct {
			WorkflowID string `json:"workflowId"`
			RunID      string `json:"runId"`
		} `json:"execution"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rows), "temporal workflow list printed %s", out)
	var runs []string
	for _, r := range rows {
		runs = append(runs, r.Execution.RunID)
	}
	return runs
}

// currentDetails reads what the Temporal UI shows as the rollout's current details.
func (e *engine) currentDetails(ctx context.Context, t *testing.T, id string) string {
	t.Helper()
	v, err := e.c.QueryWorkflow(ctx, id, "", "__temporal_workflow_metadata")
	require.NoError(t, err)
	var md sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&md))
	return md.GetCurrentDetails()
}

func TestSearchAttributesFindARolloutAcrossContinueAsNew(t *testing.T) {
	e := startEngine(t)
	e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	spec := quickSpec("findme")
	spec.Canary.Version = "v2.1"
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(8 * time.Second)}
	id := e.startInput(ctx, t, workflows.Input{Spec: spec, By: "it", MeasurementsPerRun: 3})
	// A run closed by continue-as-new keeps the attributes it had, so a
	// query for live rollouts also asks for running executions.
	query := fmt.Sprintf(`CanaryApp=%q AND CanaryNamespace=%q AND CanaryPhase="Progressing" AND ExecutionStatus="Running"`, spec.App, spec.Namespace)

	first := e.waitFor(ctx, t, id, "10 %", func(s rollout.Status) bool { return s.Weight == 10 })
	require.Zero(t, continuedRuns(first))
	firstRun := e.c.GetWorkflow(ctx, id, "").GetRunID()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		assert.Equal(ct, []string{firstRun}, e.listed(t, query))
	}, 20*time.Second, 200*time.Millisecond, "the first run is found by app, namespace and phase")
	assert.Equal(t, []string{firstRun}, e.listed(t, `CanaryWeight=10 AND CanaryVersion="v2.1"`))

	e.waitFor(ctx, t, id, "a continue-as-new", func(s rollout.Status) bool { return continuedRuns(s) > 0 })
	later := e.c.GetWorkflow(ctx, id, "").GetRunID()
	require.NotEqual(t, firstRun, later)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		runs := e.listed(t, query)
		if assert.Len(ct, runs, 1) {
			assert.NotEqual(ct, firstRun, runs[0], "the first run is closed (ContinuedAsNew); a later one is found")
		}
	}, 20*time.Second, 200*time.Millisecond, "the continued run is found the same way")
	details := e.currentDetails(ctx, t, id)
	assert.Contains(t, details, "**Progressing** it/findme v1 → v2.1, canary weight **10%**", "the UI's current details survive continue-as-new")

	res, err := control.Wait(ctx, e.c, id)
	require.NoError(t, err)
	require.Equal(t, rollout.PhasePromoted, res.Phase)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		assert.Len(ct, e.listed(t, fmt.Sprintf(`CanaryApp=%q AND CanaryPhase="Promoted" AND CanaryWeight=0`, spec.App)), 1)
	}, 20*time.Second, 200*time.Millisecond, "the last run ends Promoted at weight 0")
	replayAndCapture(ctx, t, e.c, "search-attributes-continued", id, "")
}

func continuedRuns(s rollout.Status) int {
	n := 0
	for _, ev := range s.Events {
		if ev.Kind == "continued" {
			n++
		}
	}
	return n
}
