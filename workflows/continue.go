package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/analysis"
	"github.com/canaryflow/canaryflow/rollout"
)

// DefaultMeasurementsPerRun keeps one run's history well under Temporal's
// limits (about a dozen events per measurement): a rollout that waits long —
// an approval over a weekend, measured every minute — continues as new in a
// fresh history instead of being terminated with its canary still taking traffic.
const DefaultMeasurementsPerRun = 1500

// Resume is a running rollout as it continues as new: where it is in the
// plan, what analysis has counted, and everything the status shows.
type Resume struct {
	Status rollout.Status `json:"status"`
	// Step is the index of the step to carry on with; Begun says it was in
	// progress (resumed with its start time, not restarted).
	Step         int   `json:"step"`
	Begun        bool  `json:"begun"`
	Failures     int   `json:"failures"`
	Inconclusive int   `json:"inconclusive"`
	ErrorsInARow int   `json:"errorsInARow"`
	Approved     []int `json:"approved,omitempty"`
	PromoteNow   bool  `json:"promoteNow,omitempty"`
	// GateOK is the successful measurements in a row of an analysis gate
	// that was in progress, so a long gate resumes where it was.
	GateOK int `json:"gateOK,omitempty"`
	// Queue is the rollout's host queue, if its deploy kind is host-bound.
	Queue string `json:"queue,omitempty"`
	// Thread is the notifier's handle on the rollout's conversation, so the
	// next run's messages go into the same Slack thread.
	Thread string `json:"thread,omitempty"`
	// Rollback is set when the run continued while rolling back: the next
	// run goes straight on with compensation (or its wait for a person).
	Rollback *RollbackState `json:"rollback,omitempty"`
}

// RollbackState is what compensation needs to carry on in a fresh history.
type RollbackState struct {
	// Reason is why the rollout is rolling back.
	Reason string `json:"reason"`
	// StableChanged says promotion had moved stable, so it must be restored.
	StableChanged bool `json:"stableChanged,omitempty"`
	// Cancelled says the rollout was cancelled from outside.
	Cancelled bool `json:"cancelled,omitempty"`
	// Reported says the incident report and notification for the failure were sent.
	Reported bool `json:"reported,omitempty"`
}

// resume carries on a rollout from an earlier run: no deploy, no smoke test,
// the same weight, the step in progress with its original start time.
func (r *run) resume(ctx workflow.Context, s Resume) (Result, error) {
	r.status = s.Status
	r.counters = analysis.Counters{Failures: s.Failures, Inconclusive: s.Inconclusive, ErrorsInARow: s.ErrorsInARow}
	for _, i := range s.Approved {
		r.approved[i] = true
	}
	r.paused, r.promoteNow, r.touched = s.Status.Paused, s.PromoteNow, true
	r.gateOK, r.queue = s.GateOK, s.Queue
	// The UI's current details and the search attributes belong to the run:
	// set them again so a continued rollout shows and is found as before.
	r.showDetails(ctx)
	r.publishAll(ctx)
	if s.Rollback != nil {
		r.event(ctx, "continued", "continued in a fresh history while rolling back", "")
		// As in the first run: cancellation must not end compensation or
		// the wait for a person while traffic may still reach the canary.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		return r.compensate(dctx, *s.Rollback)
	}
	r.event(ctx, "continued", fmt.Sprintf("continued in a fresh history at step %d/%d", s.Step+1, len(r.spec.Steps)), "")
	return r.finish(ctx, func(ctx workflow.Context) error { return r.steps(ctx, s.Step, s.Begun) })
}

// longRun reports whether this run's history is big enough to continue as new.
func (r *run) longRun(ctx workflow.Context) bool {
	return r.measuredThisRun >= r.perRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
}

// continueAsNew ends this run at a quiet point of step i (a hold, an approval
// wait, a pause) and starts the next with the rollout's state. A measurement
// in flight is judged first and pending signals are applied, so neither an
// abort nor a failed verdict can be lost in the hand-over.
func (r *run) continueAsNew(ctx workflow.Context, i int, begun bool) error {
	r.analysisDone = true
	if err := workflow.Await(ctx, func() bool { return r.inFlight == 0 && !r.sel.HasPending() }); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.continueWith(ctx, Resume{Step: i, Begun: begun})
}

// continueWith starts the next run with the rollout's state and s's place.
func (r *run) continueWith(ctx workflow.Context, s Resume) error {
	r.flush(ctx) // the notifications of this run go out before the next run takes the thread
	// Signals and Updates that came while they went out are applied before
	// the state is handed over, as continueAsNew ensures for those before;
	// an abort among them stops this run instead.
	_ = workflow.Await(ctx, func() bool { return !r.sel.HasPending() && workflow.AllHandlersFinished(ctx) })
	if err := ctx.Err(); err != nil {
		return err
	}
	approved := []int{}
	for step, ok := range r.approved {
		if ok {
			approved = append(approved, step)
		}
	}
	slices.Sort(approved)
	r.event(ctx, "continue-as-new", fmt.Sprintf("%d measurements in this run: continuing in a fresh history", r.measuredThisRun), "")
	s.Status, s.Failures, s.Inconclusive, s.ErrorsInARow = r.status, r.counters.Failures, r.counters.Inconclusive, r.counters.ErrorsInARow
	s.Approved, s.PromoteNow, s.GateOK, s.Queue, s.Thread = approved, r.promoteNow, r.gateOK, r.queue, r.thread()
	return workflow.NewContinueAsNewError(ctx, CanaryRollout, Input{Spec: r.spec, MeasurementsPerRun: r.perRun, RollbackRetryFor: rollout.Duration(r.retryFor), Resume: &s})
}

// hold waits out a timed pause counted from the step's start, unless a
// promote cuts it short; a long hold continues as new when the history grows.
func (r *run) hold(ctx workflow.Context, i int, d time.Duration) error {
	end := r.status.StepStartedAt.Add(d)
	for !r.promoteNow {
		left := end.Sub(workflow.Now(ctx))
		if left <= 0 {
			return nil
		}
		if _, err := workflow.AwaitWithTimeout(ctx, left, func() bool { return r.promoteNow || r.longRun(ctx) }); err != nil {
			return err
		}
		if !r.promoteNow && r.longRun(ctx) {
			return r.continueAsNew(ctx, i, true)
		}
	}
	return nil
}
