package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/telemetry"
)

// Compensation keeps trying: each undo step is retried, whatever the class
// of its error (a 409 from a router is no reason to leave the canary with
// traffic), with backoff, for Input.RollbackRetryFor. Past that the rollout is
// RollbackFailed and waits — open, its ID taken — for a person to send
// retry-rollback or resolve.
const (
	// DefaultRollbackRetryFor covers a router or API server outage of a
	// typical incident's length before a person is asked.
	DefaultRollbackRetryFor = 30 * time.Minute
	// MinRollbackRetryFor and MaxRollbackRetryFor bound Input.RollbackRetryFor.
	MinRollbackRetryFor    = time.Second
	MaxRollbackRetryFor    = 24 * time.Hour
	compensationMaxBackoff = 2 * time.Minute
	// compensationRoundsPerRun bounds the history of a rollout that a person
	// retries again and again: it continues as new past this many rounds.
	compensationRoundsPerRun = 20
)

// compensate runs rounds of undo until nothing is left; between failed
// rounds it waits for a person. It runs on a disconnected context: a
// cancelled workflow still puts traffic back, and while RollbackFailed a
// cancellation does not end the wait (resolve does), so nothing is left
// half-done behind a closed rollout.
func (r *run) compensate(ctx workflow.Context, st RollbackState) (Result, error) {
	r.status.Reason, r.stableChanged, r.analysisDone = st.Reason, st.StableChanged, true
	rounds := 0
	for {
		if r.status.Resolution == nil {
			// A retry asked for while the last round was being reported is
			// this round: clearing it only now means none is lost.
			r.retry = false
			rounds++
			r.status.RollbackAttempts++
			r.setPhase(ctx, rollout.PhaseRollingBack)
			left := r.undoPersistently(ctx)
			if len(left) == 0 {
				r.status.Left = nil
				r.event(ctx, "rolled-back", fmt.Sprintf("canary removed, stable %s serves all traffic", r.spec.Stable.Version), "")
				r.setPhase(ctx, rollout.PhaseRolledBack)
				r.report(ctx, rollout.PhaseRolledBack, "critical", st.Reason)
				return r.ended(rollout.PhaseRolledBack, st.Reason, st.Cancelled)
			}
			r.status.Left = left
			r.event(ctx, "rollback-failed", "compensation incomplete, a person must retry-rollback or resolve: "+joinReasons(left), "")
			r.setPhase(ctx, rollout.PhaseRollbackFailed)
			if !st.Reported {
				r.report(ctx, rollout.PhaseRollbackFailed, "critical",
					st.Reason+"\nleft: "+joinReasons(left)+"\nsend retry-rollback once the cause is fixed, or resolve {by, reason} once it is put right by hand")
				st.Reported = true
			}
		}
		if err := workflow.Await(ctx, func() bool {
			return r.retry || r.status.Resolution != nil || rounds >= compensationRoundsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
		}); err != nil {
			return Result{}, fmt.Errorf("waiting for a person while RollbackFailed: %w", err)
		}
		if res := r.status.Resolution; res != nil {
			reason := fmt.Sprintf("%s; resolved by %s: %s", st.Reason, res.By, res.Reason)
			r.report(ctx, rollout.PhaseRollbackFailed, "warning", reason)
			telemetry.Resolved(ctx, r.status)
			return r.ended(rollout.PhaseRollbackFailed, reason, false)
		}
		if !r.retry {
			if err := workflow.Await(ctx, func() bool { return !r.sel.HasPending() }); err != nil {
				return Result{}, err
			}
			if r.status.Resolution == nil && !r.retry {
				return Result{}, r.continueWith(ctx, Resume{Rollback: &st})
			}
		}
	}
}

// ended is the workflow's result for a rollout that rolled back, or whose
// failed rollback a person resolved.
func (r *run) ended(phase rollout.Phase, reason string, cancelled bool) (Result, error) {
	res := Result{Phase: phase, Reason: reason, IncidentReport: r.status.IncidentReport}
	if cancelled {
		return res, temporal.NewCanceledError(res)
	}
	errType := ErrTypeRolledBack
	if phase == rollout.PhaseRollbackFailed {
		errType = ErrTypeRollbackFailed
	}
	return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s", phase, reason), errType, nil, res)
}

// undoPersistently is undo with every step retried: stable restored (and
// ready) before traffic goes back to it, traffic to stable, then the canary
// removed. A step that still fails leaves what follows alone.
func (r *run) undoPersistently(ctx workflow.Context) []string {
	if !r.touched {
		r.event(ctx, "rollback", "nothing had been deployed or moved: nothing to undo", "")
		return nil
	}
	if r.stableChanged {
		if err := r.persist(ctx, "restoring stable "+r.spec.Stable.Version, func() error {
			return r.deployWith(ctx, opts.compensateDeploy, rollout.RoleStable, r.spec.Stable)
		}); err != nil {
			return []string{"restoring stable " + r.spec.Stable.Version + ": " + err.Error()}
		}
	}
	if err := r.persist(ctx, "moving all traffic to stable", func() error { return r.setWeight(ctx, opts.compensate, 0) }); err != nil {
		return []string{"moving all traffic to stable: " + err.Error()}
	}
	if err := r.persist(ctx, "removing the canary", func() error {
		return r.do(ctx, opts.remove, a.Remove, activities.RoleInput{Spec: r.spec, Role: rollout.RoleCanary})
	}); err != nil {
		return []string{"removing the canary: " + err.Error()}
	}
	return nil
}

// persist retries fn with backoff, whatever its error, until it succeeds or
// the rollout's retry budget has passed since the first try.
func (r *run) persist(ctx workflow.Context, what string, fn func() error) error {
	start := workflow.Now(ctx)
	wait := time.Second
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if workflow.Now(ctx).Sub(start) >= r.retryFor {
			return err
		}
		r.event(ctx, "retrying", fmt.Sprintf("%s failed, trying again in %s: %v", what, wait, err), "")
		if err := workflow.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		wait = min(2*wait, compensationMaxBackoff)
	}
}
