package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/analysis"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/telemetry"
)

// maxMeasurements bounds the measurements kept in status so a long rollout
// does not grow the query result (and the incident report) without limit.
const maxMeasurements = 50

// maxEvents bounds the event log the same way, keeping the first few events.
const (
	maxEvents       = 300
	keepFirstEvents = 20
)

// run is one rollout's mutable state. Workflow coroutines are cooperative, so
// the signal loop, the analysis loop and the main flow share it without locks.
type run struct {
	spec   rollout.Spec
	status rollout.Status
	// stop cancels the main flow; cause says why, for the rollback reason.
	stop  workflow.CancelFunc
	cause string

	paused     bool
	promoteNow bool
	waiting    *int         // step index waiting for approval, if any
	approved   map[int]bool // steps approved

	analysisDone    bool              // no new measurements: promotion or rollback has begun
	gating          bool              // an inline gate measures; the background loop stands aside
	inFlight        int               // measurements taken but not yet judged
	touched         bool              // something was deployed or moved: compensation has work to do
	sel             workflow.Selector // the signal loop's, to drain before continuing as new
	perRun          int               // measurements per run before continuing as new
	measuredThisRun int
	counters        analysis.Counters // under analysis.limits, see analysis.Count
	stableChanged   bool              // stable was moved to the canary's version
	promoted        bool              // traffic went to the promoted stable: no way back

	// hardened is versionHardened in force: admission checks, weight 0
	// before deploy, bounded loops, compensation that waits for a person.
	hardened bool
	// seq is versionSequential in force: a spec asking for sequential
	// judgement gets it (see run.sequential).
	seq    bool
	gateOK int  // successful measurements in a row of the gate in progress
	retry  bool // a person asked a RollbackFailed rollout to try again
	// finalResumed says this run continues a final judgement begun earlier.
	finalResumed bool
	// queue is the host queue every activity goes to when the deploy kind
	// is host-bound (see activities.Placement); "" for the main queue.
	queue string
	// retryFor is how long a compensation step is retried before RollbackFailed.
	retryFor time.Duration
	// attrs is versionSearchAttributes in force for an admitted rollout: its
	// search attributes are kept current (see publishAll).
	attrs bool
	// outbox is versionNotifyThread in force: notifications go out in order
	// off the main flow, in one thread (see notify).
	outbox *outbox
	// localMeasure is versionLocalMeasure in force: measurements of a rollout
	// that is not host-bound run as local activities.
	localMeasure bool
	// judgeRev2 is versionJudgeRevision2 in force: sequential rollouts are
	// judged by analysis.Look with one test per rule across the weights,
	// per-rule limits, score and critical rules; decision is the latest
	// look's, for measure to act on.
	judgeRev2 bool
	// judgeRev3 is versionJudgeRevision3 in force: sequential is the
	// default method, and the judge also looks at the last window alone.
	judgeRev3 bool
	decision  *analysis.Decision
	// finalFrom is when the final judgement began (judge revision 3): only
	// a look begun since then can pass it. lastLookBegan is when the
	// latest recorded look began (zero for one carried from an earlier run).
	finalFrom, lastLookBegan time.Time
}

// on places activity options on the rollout's host queue, if it has one.
func (r *run) on(o workflow.ActivityOptions) workflow.ActivityOptions {
	if r.queue != "" {
		o.TaskQueue = r.queue
	}
	return o
}

func newRun(ctx workflow.Context, spec rollout.Spec, in Input) *run {
	perRun := in.MeasurementsPerRun
	if perRun <= 0 {
		perRun = DefaultMeasurementsPerRun
	}
	retryFor := in.RollbackRetryFor.D()
	if retryFor <= 0 {
		retryFor = DefaultRollbackRetryFor
	}
	return &run{
		spec:     spec,
		perRun:   perRun,
		retryFor: retryFor,
		approved: map[int]bool{},
		status: rollout.Status{
			App: spec.App, Namespace: spec.Namespace,
			Stable: spec.Stable, Canary: spec.Canary,
			Phase: rollout.PhaseValidating, StepCount: len(spec.Steps),
			StepStartedAt: workflow.Now(ctx),
			Events:        []rollout.Event{},
		},
	}
}

func (r *run) setPhase(ctx workflow.Context, p rollout.Phase) {
	if r.status.Phase == p {
		return
	}
	workflow.GetLogger(ctx).Info("phase", "from", r.status.Phase, "to", p)
	telemetry.PhaseChanged(ctx, r.spec.Steps, r.status, p)
	r.status.Phase = p
	r.showDetails(ctx)
	r.publishPhase(ctx)
}

// showDetails keeps the Temporal UI's "current details" of the rollout up to
// date, so people watching it there see phase, step, weight and the last
// verdict without running a query.
func (r *run) showDetails(ctx workflow.Context) {
	s := r.status
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** %s/%s %s → %s, canary weight **%d%%**", s.Phase, s.Namespace, s.App, s.Stable.Version, s.Canary.Version, s.Weight)
	if s.Step > 0 {
		fmt.Fprintf(&b, "\n\nstep %d/%d: %s (since %s)", s.Step, s.StepCount, s.StepName, s.StepStartedAt.UTC().Format(time.TimeOnly))
	}
	if m, ok := s.LastMeasurement(); ok {
		fmt.Fprintf(&b, "\n\nlast measurement %s at %d%%: **%s** — %s", m.At.UTC().Format(time.TimeOnly), m.Weight, m.Verdict, m.Figures())
	}
	if s.Reason != "" {
		fmt.Fprintf(&b, "\n\nreason: %s", s.Reason)
	}
	workflow.SetCurrentDetails(ctx, b.String())
}

func (r *run) event(ctx workflow.Context, kind, msg, by string) {
	msg = rollout.Clip(rollout.RedactText(msg), rollout.MaxMessageBytes)
	r.status.Events = append(r.status.Events, rollout.Event{At: workflow.Now(ctx), Kind: kind, Message: msg, By: by})
	r.status.EventsLogged++
	if n := len(r.status.Events); n > maxEvents {
		// Keep how it started and the recent past; a flood of ignored signals must not grow the query without end.
		r.status.Events = append(r.status.Events[:keepFirstEvents:keepFirstEvents], r.status.Events[n-(maxEvents-keepFirstEvents):]...)
	}
	workflow.GetLogger(ctx).Info(msg, "event", kind, "by", by)
}

func (r *run) beginStep(ctx workflow.Context, i int, s rollout.Step) {
	telemetry.StepBegun(ctx, r.spec.Steps, r.status)
	r.status.Step = i + 1
	r.status.StepName = s.Describe()
	r.status.StepStartedAt = workflow.Now(ctx)
	r.event(ctx, "step", fmt.Sprintf("step %d/%d: %s", i+1, len(r.spec.Steps), s.Describe()), "")
	r.showDetails(ctx)
	if r.outbox != nil { // each step in the rollout's thread, without waiting for it
		r.notify(ctx, "step", "info", fmt.Sprintf("%s/%s step %d/%d: %s", r.spec.Namespace, r.spec.App, i+1, len(r.spec.Steps), s.Describe()),
			fmt.Sprintf("canary weight %d%%", r.status.Weight))
	}
}

// stopWith records why the main flow must stop and cancels it. The first
// cause wins: a later one is only logged.
func (r *run) stopWith(ctx workflow.Context, cause, by string) {
	if r.cause != "" || r.stop == nil {
		r.event(ctx, "note", "also: "+cause, by)
		return
	}
	r.cause = cause
	r.event(ctx, "stopping", cause, by)
	r.stop()
}

// do runs an activity and returns its error with Temporal's wrapping turned
// into a readable message (the original stays reachable with errors.As).
func (r *run) do(ctx workflow.Context, o workflow.ActivityOptions, fn any, args ...any) error {
	return r.exec(ctx, r.on(o), fn, args...)
}

// exec is do without the host queue, for activities any worker can run
// (notifications, incident reports): a host that is gone for good must not
// keep a rollout from telling people or from being resolved.
func (r *run) exec(ctx workflow.Context, o workflow.ActivityOptions, fn any, args ...any) error {
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, o), fn, args...).Get(ctx, nil)
	if err == nil {
		return nil
	}
	return &activityFailure{msg: rootMessage(err), err: err}
}

type activityFailure struct {
	msg string
	err error
}

func (e *activityFailure) Error() string { return e.msg }
func (e *activityFailure) Unwrap() error { return e.err }

// rootMessage strips Temporal's envelope ("activity error (type: ..., ...)")
// down to what the activity said, or what timed out.
func rootMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return rollout.Clip(rollout.RedactText(app.Message()), rollout.MaxMessageBytes)
	}
	var to *temporal.TimeoutError
	if errors.As(err, &to) {
		return fmt.Sprintf("timed out (%s)", strings.ToLower(to.TimeoutType().String()))
	}
	if temporal.IsCanceledError(err) {
		return "cancelled"
	}
	return rollout.Clip(rollout.RedactText(err.Error()), rollout.MaxMessageBytes)
}

func (r *run) setWeight(ctx workflow.Context, o workflow.ActivityOptions, w int) error {
	if err := r.do(ctx, o, a.SetWeight, activities.WeightInput{Spec: r.spec, Weight: w}); err != nil {
		return err
	}
	if r.status.Weight != w {
		r.status.WeightSince = workflow.Now(ctx)
	}
	changed := r.status.Weight != w
	r.status.Weight = w
	telemetry.WeightSet(ctx, r.spec.Namespace, r.spec.App, w)
	r.showDetails(ctx)
	if changed {
		r.publishWeight(ctx)
	}
	r.event(ctx, "weight", fmt.Sprintf("canary weight %d%%", w), "")
	return nil
}

func (r *run) lastVerdict() rollout.Verdict {
	if m, ok := r.status.LastMeasurement(); ok {
		return m.Verdict
	}
	return "none"
}

func joinReasons(rs []string) string { return strings.Join(rs, "; ") }
