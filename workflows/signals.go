package workflows

import (
	"fmt"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// listen registers the status query and starts the loop that applies signals.
// A signal that does not apply now changes nothing and is recorded as ignored.
func (r *run) listen(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, rollout.QueryStatus, func() (rollout.Status, error) {
		return r.status, nil
	}); err != nil {
		return err
	}
	sel := workflow.NewSelector(ctx)
	r.sel = sel
	on := func(name string, apply func(raw converter.RawValue)) {
		sel.AddReceive(workflow.GetSignalChannel(ctx, name), func(c workflow.ReceiveChannel, _ bool) {
			// ReceiveAsync into a RawValue never decodes and never blocks:
			// a payload that does not fit is refused below, with its reason,
			// instead of panicking the workflow task on every retry.
			var raw converter.RawValue
			c.ReceiveAsync(&raw)
			apply(raw)
		})
	}
	on(rollout.SignalApprove, func(raw converter.RawValue) {
		var p rollout.Approval
		if r.accept(ctx, rollout.SignalApprove, "{step, by}", raw, &p) {
			r.onApprove(ctx, p)
		}
	})
	on(rollout.SignalAbort, func(raw converter.RawValue) {
		var p rollout.Abort
		if err := decode(raw, &p); err != nil {
			// An abort is never lost to its payload: the brake still works.
			p = rollout.Abort{Reason: "(payload is not {reason, by}: " + err.Error() + ")"}
		}
		r.onAbort(ctx, p)
	})
	on(rollout.SignalPromote, func(raw converter.RawValue) {
		var p rollout.Actor
		if r.accept(ctx, rollout.SignalPromote, "{by}", raw, &p) {
			r.onPromote(ctx, p)
		}
	})
	on(rollout.SignalPause, func(raw converter.RawValue) {
		var p rollout.Actor
		if r.accept(ctx, rollout.SignalPause, "{by}", raw, &p) {
			r.onPause(ctx, p, true)
		}
	})
	on(rollout.SignalResume, func(raw converter.RawValue) {
		var p rollout.Actor
		if r.accept(ctx, rollout.SignalResume, "{by}", raw, &p) {
			r.onPause(ctx, p, false)
		}
	})
	on(rollout.SignalRetryRollback, func(raw converter.RawValue) {
		var p rollout.Actor
		if r.accept(ctx, rollout.SignalRetryRollback, "{by}", raw, &p) {
			r.onRetryRollback(ctx, p)
		}
	})
	on(rollout.SignalResolve, func(raw converter.RawValue) {
		var p rollout.Resolve
		if r.accept(ctx, rollout.SignalResolve, "{reason, by}", raw, &p) {
			r.onResolve(ctx, p)
		}
	})
	// The loop waits until a signal is buffered before selecting it, so that
	// sel.HasPending tells the truth to continueAsNew: a Select already
	// waiting would take a new signal without it ever showing as pending. It
	// waits on a context no cancellation reaches, or a cancelled workflow's
	// Await would return at once and spin.
	workflow.Go(ctx, func(ctx workflow.Context) {
		idle, _ := workflow.NewDisconnectedContext(ctx)
		for {
			_ = workflow.Await(idle, sel.HasPending)
			sel.Select(ctx)
		}
	})
	return nil
}

// active reports whether the steps are still running, so control signals apply.
func (r *run) active() bool {
	switch r.status.Phase {
	case rollout.PhaseValidating, rollout.PhaseDeploying, rollout.PhaseSmokeTesting,
		rollout.PhaseProgressing, rollout.PhaseAwaitApproval, rollout.PhasePaused:
		return r.cause == ""
	}
	return false
}

func (r *run) ignored(ctx workflow.Context, signal, why, by string) {
	r.event(ctx, "ignored", fmt.Sprintf("%s ignored: %s", signal, why), by)
}

// by bounds the name of who sent a signal, as it enters the workflow.
func by(name string) string { return rollout.Clip(name, rollout.MaxByBytes) }

func (r *run) onApprove(ctx workflow.Context, p rollout.Approval) {
	p.By = by(p.By)
	switch {
	case r.waiting == nil:
		r.ignored(ctx, rollout.SignalApprove, "no step is waiting for approval", p.By)
	case p.Step != nil && *p.Step != r.waitingNumber():
		r.ignored(ctx, rollout.SignalApprove, fmt.Sprintf("it names step %d but step %d is waiting", *p.Step, r.waitingNumber()), p.By)
	default:
		r.approved[*r.waiting] = true
		by := p.By
		if by == "" {
			by = "unknown"
		}
		r.status.ApprovedBy = append(r.status.ApprovedBy, by)
		r.event(ctx, "approved", fmt.Sprintf("step %d approved", *r.waiting+1), p.By)
	}
}

func (r *run) onAbort(ctx workflow.Context, p rollout.Abort) {
	p.By, p.Reason = by(p.By), rollout.Clip(p.Reason, rollout.MaxReasonBytes)
	// Promotion can still be aborted until traffic has moved to the promoted
	// stable: a slow stable upgrade must not leave an operator without a brake.
	promoting := r.status.Phase == rollout.PhasePromoting && !r.promoted && r.cause == ""
	if !r.active() && !promoting {
		r.ignored(ctx, rollout.SignalAbort, fmt.Sprintf("the rollout is %s", r.status.Phase), p.By)
		return
	}
	reason := "aborted"
	if p.By != "" {
		reason += " by " + p.By
	}
	if p.Reason != "" {
		reason += ": " + p.Reason
	}
	r.stopWith(ctx, reason, p.By)
}

func (r *run) onPromote(ctx workflow.Context, p rollout.Actor) {
	p.By = by(p.By)
	if !r.active() || r.status.Phase != rollout.PhaseProgressing && r.status.Phase != rollout.PhaseAwaitApproval && r.status.Phase != rollout.PhasePaused {
		r.ignored(ctx, rollout.SignalPromote, fmt.Sprintf("the rollout is %s; promote applies once traffic is moving", r.status.Phase), p.By)
		return
	}
	r.promoteNow = true
	r.paused, r.status.Paused = false, false
	r.event(ctx, "promote", "remaining steps skipped: promoting now", p.By)
}

func (r *run) onPause(ctx workflow.Context, p rollout.Actor, pause bool) {
	p.By = by(p.By)
	name := rollout.SignalResume
	if pause {
		name = rollout.SignalPause
	}
	switch {
	case !r.active():
		r.ignored(ctx, name, fmt.Sprintf("the rollout is %s", r.status.Phase), p.By)
	case r.paused == pause:
		r.ignored(ctx, name, fmt.Sprintf("the rollout is already %s", map[bool]string{true: "paused", false: "running"}[pause]), p.By)
	default:
		r.paused, r.status.Paused = pause, pause
		r.event(ctx, name, map[bool]string{true: "steps paused; analysis continues", false: "steps resumed"}[pause], p.By)
	}
}

// waitingNumber is the waiting step's number as status shows it; the final
// judgement before promotion shows as the last step.
func (r *run) waitingNumber() int {
	return min(*r.waiting+1, max(len(r.spec.Steps), 1))
}

// onRetryRollback asks a RollbackFailed rollout to run compensation again.
func (r *run) onRetryRollback(ctx workflow.Context, p rollout.Actor) {
	p.By = by(p.By)
	if r.status.Phase != rollout.PhaseRollbackFailed || r.status.Resolution != nil {
		r.ignored(ctx, rollout.SignalRetryRollback, fmt.Sprintf("the rollout is %s; only a RollbackFailed rollout retries its rollback", r.status.Phase), p.By)
		return
	}
	if r.retry {
		r.ignored(ctx, rollout.SignalRetryRollback, "a retry is already under way", p.By)
		return
	}
	r.retry = true
	r.event(ctx, "retry-rollback", "rollback retry requested", p.By)
}

// onResolve closes a RollbackFailed rollout on a person's word: they say who
// they are and what they did, because that is what the audit trail is for.
func (r *run) onResolve(ctx workflow.Context, p rollout.Resolve) {
	p.By, p.Reason = by(p.By), rollout.Clip(p.Reason, rollout.MaxReasonBytes)
	switch {
	case r.status.Phase != rollout.PhaseRollbackFailed:
		r.ignored(ctx, rollout.SignalResolve, fmt.Sprintf("the rollout is %s; only a RollbackFailed rollout is resolved by hand", r.status.Phase), p.By)
	case r.status.Resolution != nil:
		r.ignored(ctx, rollout.SignalResolve, "already resolved by "+r.status.Resolution.By, p.By)
	case p.By == "" || p.Reason == "":
		r.ignored(ctx, rollout.SignalResolve, "payload must name who resolved it and why: {\"by\": ..., \"reason\": ...}", p.By)
	default:
		r.status.Resolution = &rollout.Resolution{At: workflow.Now(ctx), By: p.By, Reason: p.Reason}
		r.event(ctx, "resolved", "resolved by hand: "+p.Reason, p.By)
	}
}

// whilePaused blocks progression before step next while a pause signal holds it.
func (r *run) whilePaused(ctx workflow.Context, next int) error {
	if !r.paused {
		return nil
	}
	prev := r.status.Phase
	if prev == rollout.PhasePaused {
		prev = rollout.PhaseProgressing
	}
	r.setPhase(ctx, rollout.PhasePaused)
	if err := workflow.Await(ctx, func() bool { return !r.paused || r.longRun(ctx) }); err != nil {
		return err
	}
	if r.paused {
		// Resumed runs start at next's beginning: the step before it is done.
		return r.continueAsNew(ctx, next, false)
	}
	r.setPhase(ctx, prev)
	return nil
}

// awaitApproval holds step i until approved, promoted, or its timeout
// (counted from the step's start) passes. A resumed wait does not notify again.
func (r *run) awaitApproval(ctx workflow.Context, i int, p rollout.Pause, resumed bool) error {
	r.waiting = &i
	defer func() { r.waiting = nil }()
	// A resumed run that was already waiting has asked; one that continued
	// while still gathering data (settle) has not, and must.
	asked := resumed && r.status.Phase == rollout.PhaseAwaitApproval
	r.setPhase(ctx, rollout.PhaseAwaitApproval)
	if !asked {
		r.notify(ctx, "approval-needed", "info", fmt.Sprintf("%s/%s canary waits for approval", r.spec.Namespace, r.spec.App),
			fmt.Sprintf("step %d at weight %d%%: send the approve signal to continue", i+1, r.status.Weight))
	}
	done := func() bool { return r.approved[i] || r.promoteNow }
	wake := func() bool { return done() || r.longRun(ctx) }
	for !done() {
		if p.Timeout == 0 {
			if err := workflow.Await(ctx, wake); err != nil {
				return err
			}
		} else {
			left := r.status.StepStartedAt.Add(p.Timeout.D()).Sub(workflow.Now(ctx))
			ok, err := workflow.AwaitWithTimeout(ctx, max(left, 0), wake)
			if err != nil {
				return err
			}
			if !ok && p.OnTimeout == rollout.OnTimeoutAbort {
				return &failure{fmt.Sprintf("approval of step %d not given within %s", i+1, p.Timeout.D())}
			}
			if !ok {
				r.event(ctx, "approval-timeout", fmt.Sprintf("no approval within %s: proceeding as the plan says", p.Timeout.D()), "")
				break
			}
		}
		if !done() && r.longRun(ctx) {
			return r.continueAsNew(ctx, i, true)
		}
	}
	r.setPhase(ctx, rollout.PhaseProgressing)
	return nil
}
