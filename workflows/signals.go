package workflows

import (
	"fmt"

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
	for _, c := range r.controls() {
		if err := c.register(ctx, sel); err != nil {
			return fmt.Errorf("registering %s: %w", c.name, err)
		}
	}
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
