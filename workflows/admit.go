package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// admit checks what a valid spec alone cannot: that this workflow is the one
// rollout its namespace and app may have, and that a resume block really
// continues an earlier run of it. It returns why the input is refused, or "".
func admit(info *workflow.Info, spec rollout.Spec, in Input) string {
	var why []string
	if want := rollout.WorkflowID(spec.Namespace, spec.App); info.WorkflowExecution.ID != want {
		why = append(why, fmt.Sprintf("workflow ID %q is not the one namespace %q and app %q give (%q): start rollouts with `starter start` or with that ID, so one app has one rollout",
			rollout.Clip(info.WorkflowExecution.ID, 256), spec.Namespace, spec.App, want))
	}
	if in.MeasurementsPerRun < 0 || in.MeasurementsPerRun > DefaultMeasurementsPerRun {
		why = append(why, fmt.Sprintf("measurementsPerRun must be 0 (the default, %d) to %d, got %d",
			DefaultMeasurementsPerRun, DefaultMeasurementsPerRun, in.MeasurementsPerRun))
	}
	if d := in.RollbackRetryFor.D(); d != 0 && (d < MinRollbackRetryFor || d > MaxRollbackRetryFor) {
		why = append(why, fmt.Sprintf("rollbackRetryFor must be %s to %s, got %s", MinRollbackRetryFor, MaxRollbackRetryFor, d))
	}
	if in.Resume != nil {
		if info.ContinuedExecutionRunID == "" {
			why = append(why, "resume is carried only by a rollout continuing as new; a new rollout must start without it")
		} else {
			why = append(why, checkResume(spec, *in.Resume)...)
		}
	}
	return strings.Join(why, "; ")
}

// checkResume refuses carried state that does not fit the spec: a step out
// of range, a weight outside 0–100, another app's status.
func checkResume(spec rollout.Spec, s Resume) []string {
	var why []string
	if s.Step < 0 || s.Step > len(spec.Steps) {
		why = append(why, fmt.Sprintf("resume.step must be 0 to %d, got %d", len(spec.Steps), s.Step))
	}
	if w := s.Status.Weight; w < 0 || w > 100 {
		why = append(why, fmt.Sprintf("resume.status.weight must be 0 to 100, got %d", w))
	}
	if s.Status.App != spec.App || s.Status.Namespace != spec.Namespace {
		why = append(why, "resume.status names another rollout")
	}
	if s.GateOK < 0 {
		why = append(why, fmt.Sprintf("resume.gateOK must not be negative, got %d", s.GateOK))
	}
	for _, i := range s.Approved {
		// len(steps) is the final judgement before promotion, which a person may approve.
		if i < 0 || i > len(spec.Steps) {
			why = append(why, fmt.Sprintf("resume.approved names step index %d, outside 0 to %d", i, len(spec.Steps)))
			break
		}
	}
	return why
}

// abandon rolls back a continued rollout whose carried input cannot be
// trusted: the status, weight and promotion state it carries say what to
// undo, and compensation needs nothing else.
func (r *run) abandon(ctx workflow.Context, in Input, why string) (Result, error) {
	s := in.Resume
	if s.Status.App == r.spec.App && s.Status.Namespace == r.spec.Namespace {
		r.status = s.Status
	}
	r.touched, r.queue = true, s.Queue
	st := RollbackState{Reason: rollout.Clip(why, rollout.MaxMessageBytes)}
	if s.Rollback != nil {
		st.StableChanged, st.Cancelled, st.Reported = s.Rollback.StableChanged, s.Rollback.Cancelled, s.Rollback.Reported
	}
	// Promotion may have moved stable; restoring it is idempotent.
	st.StableChanged = st.StableChanged || s.Status.Phase == rollout.PhasePromoting
	r.analysisDone = true
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	r.status.Reason = st.Reason
	r.setPhase(dctx, rollout.PhaseRollingBack)
	r.event(dctx, "rollback", "rolling back: "+st.Reason, "")
	return r.compensate(dctx, st)
}

// reject ends a rollout whose input was refused: nothing was touched, so
// there is nothing to undo and no incident to report.
func (r *run) reject(ctx workflow.Context, errType, why string) (Result, error) {
	r.setPhase(ctx, rollout.PhaseRejected)
	r.status.Reason = rollout.Clip(why, rollout.MaxMessageBytes)
	r.event(ctx, "rejected", why, "")
	res := Result{Phase: rollout.PhaseRejected, Reason: r.status.Reason}
	return res, temporal.NewNonRetryableApplicationError(r.status.Reason, errType, nil, res)
}
