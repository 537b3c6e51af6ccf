package integration

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

// temporalCLI runs the real temporal CLI against the engine's dev server,
// as an operator at a terminal would.
func (e *engine) temporalCLI(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := devstack.Binary("", "temporal")
	require.NoError(t, err)
	args = append(args, "--address", e.srv.Address(), "--namespace", e.srv.Namespace())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	require.NoError(t, err, "temporal %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// signalCLI sends a signal with a raw JSON input through the temporal CLI.
func (e *engine) signalCLI(t *testing.T, id, name, input string) {
	t.Helper()
	e.temporalCLI(t, "workflow", "signal", "--workflow-id", id, "--name", name, "--input", input)
}

// waitFor polls the status query until ok holds; a timeout reports the
// status seen last.
func (e *engine) waitFor(ctx context.Context, t *testing.T, id, what string, ok func(rollout.Status) bool) rollout.Status {
	t.Helper()
	var last rollout.Status
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		s, err := control.Status(ctx, e.c, id)
		if !assert.NoError(ct, err, "status query") {
			return
		}
		last = s
		assert.True(ct, ok(s), "waiting for %s; last status: phase %s step %d weight %d events %q", what, s.Phase, s.Step, s.Weight, s.Events)
	}, 60*time.Second, 50*time.Millisecond)
	return last
}

// startInput starts a rollout with a full input (knobs control.Start does not expose).
func (e *engine) startInput(ctx context.Context, t *testing.T, in workflows.Input) string {
	t.Helper()
	in.Spec = in.Spec.WithDefaults()
	id := rollout.WorkflowID(in.Spec.Namespace, in.Spec.App)
	_, err := e.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.CanaryRollout, in)
	require.NoError(t, err)
	return id
}

func TestJunkSignalsFromTheTemporalCLIDoNotWedgeARollout(t *testing.T) {
	e := startEngine(t)
	e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := quickSpec("junk")
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, "")}
	run, err := control.Start(ctx, e.c, spec, "it")
	require.NoError(t, err)
	id := run.GetID()
	e.waitFor(ctx, t, id, "approval wait", func(s rollout.Status) bool { return s.Phase == rollout.PhaseAwaitApproval })

	junk := []struct{ signal, input string }{
		{rollout.SignalApprove, `5`},
		{rollout.SignalApprove, `"two"`},
		{rollout.SignalApprove, `{"step": "two", "by": "mallory"}`},
		{rollout.SignalPause, `{"by": {"x": 1}}`},
		{rollout.SignalPromote, `[1]`},
		{rollout.SignalResume, `true`},
	}
	for _, j := range junk {
		e.signalCLI(t, id, j.signal, j.input)
	}
	// The query still answers (a wedged workflow task times it out), through the CLI too.
	s := e.waitFor(ctx, t, id, "every junk signal recorded", func(s rollout.Status) bool {
		n := 0
		for _, ev := range s.Events {
			if ev.Kind == "ignored" && strings.Contains(ev.Message, "payload is not") {
				n++
			}
		}
		return n == len(junk)
	})
	assert.Equal(t, rollout.PhaseAwaitApproval, s.Phase)
	assert.False(t, s.Paused)
	assert.Contains(t, e.temporalCLI(t, "workflow", "query", "--workflow-id", id, "--name", rollout.QueryStatus), "AwaitingApproval")

	e.signalCLI(t, id, rollout.SignalAbort, `{"reason": "junk test", "by": "cli"}`)
	res, err := control.Wait(ctx, e.c, id)
	require.NoError(t, err)
	assert.Equal(t, rollout.PhaseRolledBack, res.Phase)
	assert.Equal(t, "aborted by cli: junk test", res.Reason)
	assert.Equal(t, []int{0, 10, 0}, e.router.History())
	replayAndCapture(ctx, t, e.c, "junk-signals-aborted", id, "")
}

// breakWeightZero makes the router refuse weight 0 (a 409, permanent) after
// the one set before deploying, while broken is true.
func (e *engine) breakWeightZero(app string, broken *atomic.Bool) {
	var zeros atomic.Int32
	e.router.Refuse = func(w int) error {
		if w == 0 && zeros.Add(1) > 1 && broken.Load() {
			return fmt.Errorf("409 conflict on %s: %w", app, rollout.ErrPermanent)
		}
		return nil
	}
}

func TestRollbackFailedWaitsForAPersonOnARealServer(t *testing.T) {
	e := startEngine(t)
	e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var broken atomic.Bool
	broken.Store(true)
	e.breakWeightZero("stuck", &broken)
	spec := quickSpec("stuck")
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(time.Minute)}
	id := e.startInput(ctx, t, workflows.Input{Spec: spec, By: "it", RollbackRetryFor: rollout.Duration(2 * time.Second)})
	e.waitFor(ctx, t, id, "10 %", func(s rollout.Status) bool { return s.Weight == 10 })
	e.signalCLI(t, id, rollout.SignalAbort, `{"reason": "stop", "by": "cli"}`)

	s := e.waitFor(ctx, t, id, "RollbackFailed", func(s rollout.Status) bool { return s.Phase == rollout.PhaseRollbackFailed })
	require.NotEmpty(t, s.Left)
	assert.Contains(t, s.Left[0], "409 conflict")
	assert.Equal(t, 10, s.Weight, "status shows the weight that is still set")
	desc, err := e.c.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus(), "RollbackFailed keeps the workflow open")
	_, err = control.Start(ctx, e.c, spec, "it")
	require.ErrorIs(t, err, control.ErrAlreadyRunning, "no new rollout starts on a broken state")

	// A retry while the router still refuses fails again and waits again.
	e.signalCLI(t, id, rollout.SignalRetryRollback, `{"by": "cli"}`)
	e.waitFor(ctx, t, id, "second failed round", func(s rollout.Status) bool {
		return s.RollbackAttempts == 2 && s.Phase == rollout.PhaseRollbackFailed
	})
	broken.Store(false)
	e.signalCLI(t, id, rollout.SignalRetryRollback, `{"by": "cli"}`)
	res, err := control.Wait(ctx, e.c, id)
	require.NoError(t, err)
	assert.Equal(t, rollout.PhaseRolledBack, res.Phase)
	assert.Equal(t, 0, e.router.History()[len(e.router.History())-1], "the rollback reached weight 0")
	_, canary := e.deploy.Running(spec, rollout.RoleCanary)
	assert.False(t, canary)
	replayAndCapture(ctx, t, e.c, "rollback-failed-retried", id, "")
}

func TestRollbackFailedIsResolvedByAPerson(t *testing.T) {
	e := startEngine(t)
	e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var broken atomic.Bool
	broken.Store(true)
	e.breakWeightZero("manual", &broken)
	spec := quickSpec("manual")
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(time.Minute)}
	id := e.startInput(ctx, t, workflows.Input{Spec: spec, By: "it", RollbackRetryFor: rollout.Duration(time.Second)})
	e.waitFor(ctx, t, id, "10 %", func(s rollout.Status) bool { return s.Weight == 10 })
	require.NoError(t, control.Signal(ctx, e.c, id, rollout.SignalAbort, rollout.Abort{Reason: "stop", By: "it"}))
	e.waitFor(ctx, t, id, "RollbackFailed", func(s rollout.Status) bool { return s.Phase == rollout.PhaseRollbackFailed })
	e.signalCLI(t, id, rollout.SignalResolve, `{"by": "dana"}`) // no reason: refused
	e.signalCLI(t, id, rollout.SignalResolve, `{"by": "dana", "reason": "set the weight to 0 by hand"}`)
	res, err := control.Wait(ctx, e.c, id)
	require.NoError(t, err)
	assert.Equal(t, rollout.PhaseRollbackFailed, res.Phase)
	assert.Contains(t, res.Reason, "resolved by dana: set the weight to 0 by hand")
	s, err := control.Status(ctx, e.c, id)
	require.NoError(t, err)
	require.NotNil(t, s.Resolution)
	replayAndCapture(ctx, t, e.c, "rollback-failed-resolved", id, "")
}

func TestSignalsInSeveralPhasesReplay(t *testing.T) {
	e := startEngine(t)
	e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("paused, approved, resumed, promoted", func(t *testing.T) {
		spec := quickSpec("walk")
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, ""), rollout.Weight(50), rollout.Hold(2 * time.Second),
			rollout.Weight(75), rollout.Hold(time.Minute)}
		run, err := control.Start(ctx, e.c, spec, "it")
		require.NoError(t, err)
		id := run.GetID()
		e.waitFor(ctx, t, id, "approval wait", func(s rollout.Status) bool { return s.Phase == rollout.PhaseAwaitApproval })
		require.NoError(t, control.Signal(ctx, e.c, id, rollout.SignalPause, rollout.Actor{By: "ann"}))
		two := 2
		require.NoError(t, control.Signal(ctx, e.c, id, rollout.SignalApprove, rollout.Approval{Step: &two, By: "ann"}))
		e.waitFor(ctx, t, id, "paused before step 3", func(s rollout.Status) bool { return s.Phase == rollout.PhasePaused })
		require.NoError(t, control.Signal(ctx, e.c, id, rollout.SignalResume, rollout.Actor{By: "ann"}))
		e.waitFor(ctx, t, id, "the last hold", func(s rollout.Status) bool { return s.Step == 6 })
		require.NoError(t, control.Signal(ctx, e.c, id, rollout.SignalPromote, rollout.Actor{By: "ann"}))
		res, err := control.Wait(ctx, e.c, id)
		require.NoError(t, err)
		assert.Equal(t, rollout.PhasePromoted, res.Phase)
		replayAndCapture(ctx, t, e.c, "signals-promoted", id, "")
	})

	t.Run("aborted while paused", func(t *testing.T) {
		spec := quickSpec("held")
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(time.Second), rollout.Weight(50)}
		run, err := control.Start(ctx, e.c, spec, "it")
		require.NoError(t, err)
		id := run.GetID()
		e.waitFor(ctx, t, id, "10 %", func(s rollout.Status) bool { return s.Weight == 10 })
		require.NoError(t, control.Signal(ctx, e.c, id, rollout.SignalPause, rollout.Actor{By: "bo"}))
		e.waitFor(ctx, t, id, "paused", func(s rollout.Status) bool { return s.Phase == rollout.PhasePaused })
		require.NoError(t, control.Signal(ctx, e.c, id, rollout.SignalAbort, rollout.Abort{Reason: "held too long", By: "bo"}))
		res, err := control.Wait(ctx, e.c, id)
		require.NoError(t, err)
		assert.Equal(t, rollout.PhaseRolledBack, res.Phase)
		replayAndCapture(ctx, t, e.c, "signals-aborted-paused", id, "")
	})

	t.Run("approved after continuing as new", func(t *testing.T) {
		spec := quickSpec("later")
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, "")}
		id := e.startInput(ctx, t, workflows.Input{Spec: spec, By: "it", MeasurementsPerRun: 2})
		e.waitFor(ctx, t, id, "a continue-as-new", func(s rollout.Status) bool {
			for _, ev := range s.Events {
				if ev.Kind == "continued" {
					return true
				}
			}
			return false
		})
		require.NoError(t, control.Signal(ctx, e.c, id, rollout.SignalApprove, rollout.Approval{By: "cy"}))
		res, err := control.Wait(ctx, e.c, id)
		require.NoError(t, err)
		assert.Equal(t, rollout.PhasePromoted, res.Phase)
		replayAndCapture(ctx, t, e.c, "signals-continued-approved", id, "")
	})
}

var _ = errors.New
