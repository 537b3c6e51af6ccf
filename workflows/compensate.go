package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/rollout"
)

// rollback compensates in a context that survives the workflow's own
// cancellation: traffic to stable first, then stable back to its release if
// promotion had moved it, then the canary removed; then people are told and
// an incident report is written. Every step is idempotent, and the rollout
// always ends in a known phase: RolledBack, or RollbackFailed naming what is
// left — which, in hardened runs, waits for a person instead of ending.
func (r *run) rollback(ctx workflow.Context, cause error) (Result, error) {
	reason := r.reasonFor(cause)
	r.analysisDone = true
	r.status.Reason = reason
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	r.setPhase(dctx, rollout.PhaseRollingBack)
	r.event(dctx, "rollback", "rolling back: "+reason, "")
	cancelled := temporal.IsCanceledError(cause) && r.cause == ""
	if r.hardened {
		return r.compensate(dctx, RollbackState{Reason: reason, StableChanged: r.stableChanged, Cancelled: cancelled})
	}
	return r.rollbackOnce(dctx, reason, cancelled)
}

// rollbackOnce is compensation as rollouts started before versionHardened
// replay it: one round, then the workflow ends whatever is left.
func (r *run) rollbackOnce(dctx workflow.Context, reason string, cancelled bool) (Result, error) {
	left := r.undo(dctx)

	phase, severity := rollout.PhaseRolledBack, "critical"
	if len(left) > 0 {
		phase = rollout.PhaseRollbackFailed
		r.event(dctx, "rollback-failed", "compensation incomplete, a human must look: "+joinReasons(left), "")
	} else {
		r.event(dctx, "rolled-back", fmt.Sprintf("canary removed, stable %s serves all traffic", r.spec.Stable.Version), "")
	}
	r.setPhase(dctx, phase)

	r.report(dctx, phase, severity, reason)

	res := Result{Phase: phase, Reason: reason, IncidentReport: r.status.IncidentReport}
	if cancelled {
		// Cancelled from outside: report it as such once compensation is done.
		return res, temporal.NewCanceledError(res)
	}
	return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s", phase, reason), ErrTypeRolledBack, nil, res)
}

// report writes the incident report (kept in status) and tells people.
func (r *run) report(ctx workflow.Context, phase rollout.Phase, severity, text string) {
	info := workflow.GetInfo(ctx)
	incident := rollout.Incident{RolloutID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID, Status: r.status}
	var path string
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts.notify), a.WriteIncident, incident).Get(ctx, &path); err != nil {
		r.event(ctx, "incident-failed", "writing the incident report: "+rootMessage(err), "")
	} else {
		r.status.IncidentReport = path
	}
	r.notify(ctx, string(phase), severity, fmt.Sprintf("Canary %s of %s/%s %s", r.spec.Canary.Version, r.spec.Namespace, r.spec.App, phase),
		fmt.Sprintf("%s\nincident report: %s", text, r.status.IncidentReport))
}

// undo puts traffic and deployments back as they were and returns what it
// could not do. Stable is restored (and ready) before traffic goes back to
// it, and the canary is removed only once no traffic can reach it; if a step
// fails, what follows is left alone so nothing healthy is taken away.
func (r *run) undo(ctx workflow.Context) []string {
	if !r.touched {
		r.event(ctx, "rollback", "nothing had been deployed or moved: nothing to undo", "")
		return nil
	}
	if r.stableChanged {
		if err := r.deploy(ctx, rollout.RoleStable, r.spec.Stable); err != nil {
			return []string{"restoring stable " + r.spec.Stable.Version + ": " + err.Error()}
		}
	}
	if err := r.setWeight(ctx, opts.compensate, 0); err != nil {
		return []string{err.Error()}
	}
	if err := r.do(ctx, opts.remove, a.Remove, activities.RoleInput{Spec: r.spec, Role: rollout.RoleCanary}); err != nil {
		return []string{"removing the canary: " + err.Error()}
	}
	return nil
}
