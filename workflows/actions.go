package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// controls are the rollout's controls, each as a signal and an Update (see
// control). Each refuse says what does not apply in words a person acts on.
func (r *run) controls() []control {
	actor := func(p rollout.Actor) string { return p.By }
	cleanActor := func(p rollout.Actor) rollout.Actor { p.By = by(p.By); return p }
	return []control{
		controlOf(r, action[rollout.Approval]{
			name: rollout.SignalApprove, shape: "{step, by}",
			clean:  func(p rollout.Approval) rollout.Approval { p.By = by(p.By); return p },
			actor:  func(p rollout.Approval) string { return p.By },
			refuse: r.refuseApprove, apply: r.applyApprove,
		}),
		controlOf(r, action[rollout.Abort]{
			name: rollout.SignalAbort, shape: "{reason, by}",
			clean: func(p rollout.Abort) rollout.Abort {
				p.By, p.Reason = by(p.By), rollout.Clip(p.Reason, rollout.MaxReasonBytes)
				return p
			},
			actor: func(p rollout.Abort) string { return p.By },
			lenient: func(err error) rollout.Abort {
				return rollout.Abort{Reason: "(payload is not {reason, by}: " + err.Error() + ")"}
			},
			refuse: r.refuseAbort, apply: r.applyAbort,
		}),
		controlOf(r, action[rollout.Actor]{
			name: rollout.SignalPromote, shape: "{by}", clean: cleanActor, actor: actor,
			refuse: r.refusePromote, apply: r.applyPromote,
		}),
		controlOf(r, action[rollout.Actor]{
			name: rollout.SignalPause, shape: "{by}", clean: cleanActor, actor: actor,
			refuse: func(ctx workflow.Context, _ rollout.Actor) string { return r.refusePause(ctx, true) },
			apply:  func(ctx workflow.Context, p rollout.Actor) string { return r.applyPause(ctx, p, true) },
		}),
		controlOf(r, action[rollout.Actor]{
			name: rollout.SignalResume, shape: "{by}", clean: cleanActor, actor: actor,
			refuse: func(ctx workflow.Context, _ rollout.Actor) string { return r.refusePause(ctx, false) },
			apply:  func(ctx workflow.Context, p rollout.Actor) string { return r.applyPause(ctx, p, false) },
		}),
		controlOf(r, action[rollout.Actor]{
			name: rollout.SignalRetryRollback, shape: "{by}", clean: cleanActor, actor: actor,
			refuse: r.refuseRetryRollback, apply: r.applyRetryRollback,
		}),
		controlOf(r, action[rollout.Resolve]{
			name: rollout.SignalResolve, shape: "{reason, by}",
			clean: func(p rollout.Resolve) rollout.Resolve {
				p.By, p.Reason = by(p.By), rollout.Clip(p.Reason, rollout.MaxReasonBytes)
				return p
			},
			actor:  func(p rollout.Resolve) string { return p.By },
			refuse: r.refuseResolve, apply: r.applyResolve,
		}),
	}
}

// where says what the rollout is doing now, for a refusal: "step 3/6 is a
// timed hold (pause 5m0s), 4m12s left".
func (r *run) where(ctx workflow.Context) string {
	s := r.status
	if s.Phase != rollout.PhaseProgressing && s.Phase != rollout.PhasePaused || s.Step < 1 || s.Step > len(r.spec.Steps) {
		return fmt.Sprintf("the rollout is %s", s.Phase)
	}
	step := r.spec.Steps[s.Step-1]
	at := fmt.Sprintf("step %d/%d", s.Step, len(r.spec.Steps))
	if s.Phase == rollout.PhasePaused {
		return fmt.Sprintf("%s (%s): the steps are paused", at, step.Describe())
	}
	if step.Pause != nil && step.Pause.Duration > 0 {
		left := s.StepStartedAt.Add(step.Pause.Duration.D()).Sub(workflow.Now(ctx))
		return fmt.Sprintf("%s is a timed hold (%s), %s left", at, step.Describe(), max(left, 0).Round(time.Second))
	}
	return fmt.Sprintf("%s (%s) at weight %d%%", at, step.Describe(), s.Weight)
}

func (r *run) refuseApprove(ctx workflow.Context, p rollout.Approval) string {
	switch {
	case r.waiting == nil:
		return "nothing waits for approval; " + r.where(ctx)
	case p.Step != nil && *p.Step != r.waitingNumber():
		return fmt.Sprintf("it names step %d but step %d is waiting", *p.Step, r.waitingNumber())
	}
	return ""
}

func (r *run) applyApprove(ctx workflow.Context, p rollout.Approval) string {
	r.approved[*r.waiting] = true
	who := p.By
	if who == "" {
		who = "unknown"
	}
	r.status.ApprovedBy = append(r.status.ApprovedBy, who)
	msg := fmt.Sprintf("step %d approved", *r.waiting+1)
	r.event(ctx, "approved", msg, p.By)
	return msg + " by " + who + "; the rollout continues"
}

// promoting reports a promotion that can still be aborted: until traffic has
// moved to the promoted stable, a slow stable upgrade must not leave an
// operator without a brake.
func (r *run) promoting() bool {
	return r.status.Phase == rollout.PhasePromoting && !r.promoted && r.cause == ""
}

func (r *run) refuseAbort(_ workflow.Context, _ rollout.Abort) string {
	if !r.active() && !r.promoting() {
		return fmt.Sprintf("the rollout is %s", r.status.Phase)
	}
	return ""
}

func (r *run) applyAbort(ctx workflow.Context, p rollout.Abort) string {
	reason := "aborted"
	if p.By != "" {
		reason += " by " + p.By
	}
	if p.Reason != "" {
		reason += ": " + p.Reason
	}
	r.stopWith(ctx, reason, p.By)
	return reason + "; rolling back: traffic to stable first, then the canary is removed"
}

func (r *run) refusePromote(_ workflow.Context, _ rollout.Actor) string {
	switch r.status.Phase {
	case rollout.PhaseProgressing, rollout.PhaseAwaitApproval, rollout.PhasePaused:
		if r.active() {
			return ""
		}
	}
	return fmt.Sprintf("the rollout is %s; promote applies once traffic is moving", r.status.Phase)
}

func (r *run) applyPromote(ctx workflow.Context, p rollout.Actor) string {
	r.promoteNow = true
	r.paused, r.status.Paused = false, false
	msg := "remaining steps skipped: promoting now"
	r.event(ctx, "promote", msg, p.By)
	return msg
}

func (r *run) refusePause(_ workflow.Context, pause bool) string {
	switch {
	case !r.active():
		return fmt.Sprintf("the rollout is %s", r.status.Phase)
	case r.paused == pause:
		return fmt.Sprintf("the rollout is already %s", map[bool]string{true: "paused", false: "running"}[pause])
	}
	return ""
}

func (r *run) applyPause(ctx workflow.Context, p rollout.Actor, pause bool) string {
	name := rollout.SignalResume
	if pause {
		name = rollout.SignalPause
	}
	r.paused, r.status.Paused = pause, pause
	msg := map[bool]string{true: "steps paused; analysis continues", false: "steps resumed"}[pause]
	r.event(ctx, name, msg, p.By)
	return msg
}

// waitingNumber is the waiting step's number as status shows it; the final
// judgement before promotion shows as the last step.
func (r *run) waitingNumber() int {
	return min(*r.waiting+1, max(len(r.spec.Steps), 1))
}

func (r *run) refuseRetryRollback(_ workflow.Context, _ rollout.Actor) string {
	switch {
	case r.status.Phase != rollout.PhaseRollbackFailed || r.status.Resolution != nil:
		return fmt.Sprintf("the rollout is %s; only a RollbackFailed rollout retries its rollback", r.status.Phase)
	case r.retry:
		return "a retry is already under way"
	}
	return ""
}

// applyRetryRollback asks a RollbackFailed rollout to run compensation again.
func (r *run) applyRetryRollback(ctx workflow.Context, p rollout.Actor) string {
	r.retry = true
	r.event(ctx, "retry-rollback", "rollback retry requested", p.By)
	return "rollback retry requested: compensation runs again"
}

// refuseResolve: a person closing a RollbackFailed rollout says who they are
// and what they did, because that is what the audit trail is for.
func (r *run) refuseResolve(_ workflow.Context, p rollout.Resolve) string {
	switch {
	case r.status.Phase != rollout.PhaseRollbackFailed:
		return fmt.Sprintf("the rollout is %s; only a RollbackFailed rollout is resolved by hand", r.status.Phase)
	case r.status.Resolution != nil:
		return "already resolved by " + r.status.Resolution.By
	case p.By == "" || p.Reason == "":
		return "payload must name who resolved it and why: {\"by\": ..., \"reason\": ...}"
	}
	return ""
}

func (r *run) applyResolve(ctx workflow.Context, p rollout.Resolve) string {
	r.status.Resolution = &rollout.Resolution{At: workflow.Now(ctx), By: p.By, Reason: p.Reason}
	r.event(ctx, "resolved", "resolved by hand: "+p.Reason, p.By)
	return "resolved by " + p.By + ": the rollout ends"
}
