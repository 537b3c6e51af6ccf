// Package workflows holds CanaryRollout, the durable workflow that takes one
// canary from deployment to promotion or rollback. It is deterministic
// orchestration only: every side effect is an activity, every rule lives in
// package rollout, and the function below reads like the plan it runs.
package workflows

import (
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/rollout"
)

// Change IDs for workflow.GetVersion: rollouts started before a change replay
// the old way.
const (
	// versionFinalLook adds a final measurement before promotion.
	versionFinalLook = "final-look"
	// versionHardened admits only valid input (spec, workflow ID, resume
	// state), sets weight 0 before deploying, refuses on preflight instead of
	// rolling back, bounds every loop, and keeps compensation going until a
	// person decides (see run.hardened).
	versionHardened = "hardened"
	// versionSequential lets a spec ask for sequential judgement (package
	// analysis): counts since the weight began, holds extended while undecided.
	versionSequential = "sequential"
	// versionSearchAttributes keeps an admitted rollout's search attributes
	// (app, namespace, phase, weight, version) current, in every run.
	versionSearchAttributes = "search-attributes"
	// versionNotifyThread sends notifications in order off the main flow (a
	// slow notifier delays nothing), one per step too, all in the thread the
	// first one started (carried across continue-as-new).
	versionNotifyThread = "notify-thread"
	// versionLocalMeasure measures through a local activity (fewer history
	// events and workflow tasks per measurement) unless the rollout is host-bound.
	versionLocalMeasure = "local-measure"
	// versionJudgeRevision2 judges sequential rollouts with analysis.Look
	// (revision 2): one test per rule across every weight, per-rule limits,
	// score and critical rules.
	versionJudgeRevision2 = "judge-revision-2"
	// versionJudgeRevision3 makes sequential judgement the default method
	// (a spec naming none used to get thresholds) and judges sequential
	// rollouts with analysis revision 3: the pooled tests plus a recent
	// look on the last window, so a fault in the middle of a hold is not
	// diluted by the healthy counts before it.
	versionJudgeRevision3 = "judge-revision-3"
)

// TaskQueue is where the worker listens and the starter sends rollouts.
const TaskQueue = "canaryflow"

// Error types a rollout ends with, for callers telling outcomes apart.
const (
	ErrTypeInvalidSpec = "InvalidSpec"
	ErrTypeRolledBack  = "RolledBack"
	// ErrTypeRollbackFailed: compensation could not finish and a person
	// resolved the rollout by hand.
	ErrTypeRollbackFailed = "RollbackFailed"
	// ErrTypeRejected: the input was refused (foreign workflow ID, a resume
	// block from outside, a preflight refusal) and nothing was touched.
	ErrTypeRejected = "Rejected"
)

// Input starts a rollout.
type Input struct {
	Spec rollout.Spec `json:"spec"`
	// By names who started it, for the event log.
	By string `json:"by,omitempty"`
	// Resume is set only by the workflow itself when it continues as new:
	// the running rollout carried into a fresh history. A run that was not
	// continued from an earlier one of the same ID refuses it.
	Resume *Resume `json:"resume,omitempty"`
	// MeasurementsPerRun bounds the measurements one run takes before it
	// continues as new; 0 means DefaultMeasurementsPerRun.
	MeasurementsPerRun int `json:"measurementsPerRun,omitempty"`
	// RollbackRetryFor is how long each compensation step is retried before
	// the rollout is RollbackFailed and waits for a person; 0 means
	// DefaultRollbackRetryFor. Between MinRollbackRetryFor and MaxRollbackRetryFor.
	RollbackRetryFor rollout.Duration `json:"rollbackRetryFor,omitempty"`
}

// Result is how a rollout ended.
type Result struct {
	Phase          rollout.Phase `json:"phase"`
	Reason         string        `json:"reason,omitempty"`
	IncidentReport string        `json:"incidentReport,omitempty"`
}

// a is used only to name activities in a type-safe way; it is never called.
var a *activities.Activities

// CanaryRollout deploys the canary at weight 0, smoke-tests it, walks the
// steps while analysis watches canary against stable, then promotes. Any
// failure, abort or cancellation rolls back by compensation.
func CanaryRollout(ctx workflow.Context, in Input) (Result, error) {
	// control.Start sends the spec with its defaults already applied, so this
	// only fills a partial spec started with the temporal CLI. Changing a
	// default can therefore change what such a rollout does on replay: guard
	// a default's change with workflow.GetVersion like any other.
	judgeRev3 := workflow.GetVersion(ctx, versionJudgeRevision3, workflow.DefaultVersion, 1) >= 1
	raw := in.Spec
	if !judgeRev3 && raw.Analysis.Judging.Method == "" {
		raw.Analysis.Judging.Method = rollout.MethodThresholds // the default before judge-revision-3
	}
	spec := raw.WithDefaults()
	r := newRun(ctx, spec, in)
	r.judgeRev3 = judgeRev3
	if err := r.listen(ctx); err != nil {
		return Result{}, fmt.Errorf("registering handlers: %w", err)
	}
	r.hardened = workflow.GetVersion(ctx, versionHardened, workflow.DefaultVersion, 1) >= 1
	r.seq = workflow.GetVersion(ctx, versionSequential, workflow.DefaultVersion, 1) >= 1
	attrs := workflow.GetVersion(ctx, versionSearchAttributes, workflow.DefaultVersion, 1) >= 1
	r.localMeasure = workflow.GetVersion(ctx, versionLocalMeasure, workflow.DefaultVersion, 1) >= 1
	r.judgeRev2 = workflow.GetVersion(ctx, versionJudgeRevision2, workflow.DefaultVersion, 1) >= 1
	if workflow.GetVersion(ctx, versionNotifyThread, workflow.DefaultVersion, 1) >= 1 {
		var thread string
		if in.Resume != nil {
			thread = in.Resume.Thread
		}
		r.startOutbox(ctx, thread)
		// However the rollout ends, its last notifications go out first (bounded).
		defer r.flush(ctx)
	}
	if r.hardened {
		info := workflow.GetInfo(ctx)
		why, errType := admit(info, spec, in), ErrTypeRejected
		if err := spec.Validate(); err != nil {
			why, errType = err.Error(), ErrTypeInvalidSpec
		}
		if why != "" && in.Resume != nil && info.ContinuedExecutionRunID != "" {
			// A rollout of ours, already moving traffic, whose carried state
			// this code refuses (stricter limits since it started): rolling it
			// back is the known state; refusing it would strand its canary.
			return r.abandon(ctx, in, "this version of canaryflow refuses the rollout it continues: "+why)
		}
		if why != "" {
			return r.reject(ctx, errType, why)
		}
	}
	// Only an admitted rollout is published: its values are validated, and
	// a refused one has nothing to find.
	r.attrs = attrs && r.hardened
	if in.Resume != nil {
		return r.resume(ctx, *in.Resume)
	}
	r.publishAll(ctx)
	r.event(ctx, "started", fmt.Sprintf("rollout of %s → %s", spec.Stable.Version, spec.Canary.Version), by(in.By))

	if !r.hardened { // hardened runs validated before anything else
		if err := spec.Validate(); err != nil {
			return r.reject(ctx, ErrTypeInvalidSpec, err.Error())
		}
	}

	return r.finish(ctx, r.run)
}

// finish runs the main flow in a context that abort and analysis can cancel,
// and turns how it ended into the workflow's result.
func (r *run) finish(ctx workflow.Context, flow func(workflow.Context) error) (Result, error) {
	mainCtx, cancel := workflow.WithCancel(ctx)
	r.stop = cancel
	err := flow(mainCtx)
	var next *workflow.ContinueAsNewError
	switch {
	case err == nil:
		return Result{Phase: rollout.PhasePromoted}, nil
	case errors.As(err, &next):
		return Result{}, err
	}
	var ref *refusal
	if errors.As(err, &ref) && !r.touched {
		return r.reject(ctx, ErrTypeRejected, ref.msg)
	}
	return r.rollback(ctx, err)
}

// run is the happy path; it returns at the first failure, abort or cancellation.
func (r *run) run(ctx workflow.Context) error {
	spec := r.spec
	if r.hardened {
		if err := r.place(ctx); err != nil {
			if ctx.Err() != nil {
				return err // an abort or cancellation, not a refusal
			}
			return &refusal{"placing the rollout on a worker: " + err.Error()}
		}
	}
	if err := r.do(ctx, opts.preflight, a.Preflight, spec); err != nil {
		if r.hardened && ctx.Err() == nil {
			// Nothing has been touched: a refusal, not a rollback.
			return &refusal{"preflight refused the rollout: " + err.Error()}
		}
		return err
	}
	r.notify(ctx, "started", "info", fmt.Sprintf("Canary rollout of %s/%s started", spec.Namespace, spec.App),
		fmt.Sprintf("%s → %s, %d steps", spec.Stable.Version, spec.Canary.Version, len(spec.Steps)))

	r.setPhase(ctx, rollout.PhaseDeploying)
	r.touched = true
	if r.hardened {
		// A weight left on the router by a rollout that ended badly must not
		// send traffic to a canary that has not been smoke-tested: the
		// activity reads the weight back, so 0 is what the router serves.
		if err := r.setWeight(ctx, opts.setWeight, 0); err != nil {
			return fmt.Errorf("making sure no traffic reaches the canary before it is deployed: %w", err)
		}
	}
	if err := r.deploy(ctx, rollout.RoleCanary, spec.Canary); err != nil {
		return err
	}

	r.setPhase(ctx, rollout.PhaseSmokeTesting)
	if err := r.smoke(ctx); err != nil {
		return err
	}

	r.setPhase(ctx, rollout.PhaseProgressing)
	return r.steps(ctx, 0, false)
}

// steps walks the plan from step first (resumed: it was already begun in an
// earlier run), with background analysis, then promotes.
func (r *run) steps(ctx workflow.Context, first int, resumed bool) error {
	workflow.Go(ctx, r.analyze)
	for i := first; i < len(r.spec.Steps); i++ {
		// A step resumed from an earlier run was already begun: a pause only
		// ever holds the rollout between steps.
		if !resumed || i != first {
			if err := r.whilePaused(ctx, i); err != nil {
				return err
			}
			if r.promoteNow {
				r.event(ctx, "skipped", fmt.Sprintf("steps %d–%d skipped by promote", i+1, len(r.spec.Steps)), "")
				break
			}
			if r.hardened && i > first && r.longRun(ctx) {
				// Many short steps fill a history too: continue before step i
				// begins (never before this run's first, so each run progresses).
				return r.continueAsNew(ctx, i, false)
			}
			r.beginStep(ctx, i, r.spec.Steps[i])
		}
		if err := r.step(ctx, i, r.spec.Steps[i], resumed && i == first); err != nil {
			return err
		}
	}
	if err := r.whilePaused(ctx, len(r.spec.Steps)); err != nil {
		return err
	}
	r.finalResumed = resumed && first == len(r.spec.Steps)
	return r.promote(ctx)
}

// step runs one entry of the plan; a step resumed from an earlier run keeps
// its start time, so a hold or approval timeout counts from when it began.
func (r *run) step(ctx workflow.Context, i int, s rollout.Step, resumed bool) error {
	switch {
	case s.SetWeight != nil:
		return r.setWeight(ctx, opts.setWeight, *s.SetWeight)
	case s.Pause != nil && s.Pause.Duration > 0:
		if err := r.hold(ctx, i, s.Pause.Duration.D()); err != nil || !r.sequential() || r.status.Weight == 0 {
			return err
		}
		return r.settle(ctx, i, r.status.StepStartedAt, s.Pause.Duration.D(), resumed)
	case s.Pause != nil:
		return r.awaitApproval(ctx, i, *s.Pause, resumed)
	case s.Analysis != nil:
		return r.gate(ctx, i, s.Analysis.Measurements, resumed)
	}
	return fmt.Errorf("step %d has nothing to do", i)
}

// deploy makes a role run a release and waits until it is ready.
func (r *run) deploy(ctx workflow.Context, role rollout.Role, rel rollout.Release) error {
	return r.deployWith(ctx, opts.deploy, role, rel)
}

// deployWith deploys with the given activity options; compensation retries
// harder than the forward path.
func (r *run) deployWith(ctx workflow.Context, o workflow.ActivityOptions, role rollout.Role, rel rollout.Release) error {
	in := activities.DeployInput{Spec: r.spec, Role: role, Release: rel}
	if err := r.do(ctx, o, a.Deploy, in); err != nil {
		return err
	}
	ready := activities.RoleInput{Spec: r.spec, Role: role}
	if err := r.do(ctx, opts.waitReady(r.spec), a.WaitReady, ready); err != nil {
		return fmt.Errorf("waiting for %s %s to be ready: %w", role, rel.Version, err)
	}
	r.event(ctx, "ready", fmt.Sprintf("%s runs %s and is ready", role, rel.Version), "")
	return nil
}

// smoke runs the smoke tests; any failed check rolls back before traffic moves.
func (r *run) smoke(ctx workflow.Context) error {
	var report rollout.SmokeReport
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, r.on(opts.smoke)), a.SmokeTest, r.spec).Get(ctx, &report); err != nil {
		return fmt.Errorf("smoke testing the canary: %w", err)
	}
	r.status.Smoke = &report
	if !report.Passed() {
		return &failure{fmt.Sprintf("smoke tests failed: %s", joinReasons(report.Failures()))}
	}
	r.event(ctx, "smoke", fmt.Sprintf("%d smoke checks passed", len(report.Checks)), "")
	return nil
}

// promote moves stable to the canary's version, then all traffic to stable,
// then removes the canary. The traffic switch is the point of no return.
func (r *run) promote(ctx workflow.Context) error {
	if err := r.lastLook(ctx); err != nil {
		return err
	}
	r.setPhase(ctx, rollout.PhasePromoting)
	r.stableChanged = true
	if err := r.deploy(ctx, rollout.RoleStable, r.spec.Canary); err != nil {
		return err
	}
	if err := r.setWeight(ctx, opts.setWeight, 0); err != nil {
		return err
	}
	r.promoted = true
	if r.cause != "" {
		r.event(ctx, "note", "the abort came as traffic reached the promoted stable: the promotion completes", "")
	}
	// The canary no longer serves anything; its removal is cleanup that must not undo the promotion.
	cleanup, _ := workflow.NewDisconnectedContext(ctx)
	if err := r.do(cleanup, opts.remove, a.Remove, activities.RoleInput{Spec: r.spec, Role: rollout.RoleCanary}); err != nil {
		r.event(ctx, "cleanup-failed", fmt.Sprintf("promoted, but removing the canary failed: %v", err), "")
		r.notify(cleanup, "cleanup-failed", "warning", fmt.Sprintf("%s/%s promoted; canary removal failed", r.spec.Namespace, r.spec.App), err.Error())
	}
	r.setPhase(ctx, rollout.PhasePromoted)
	r.event(ctx, "promoted", fmt.Sprintf("stable now runs %s", r.spec.Canary.Version), "")
	r.notify(cleanup, "promoted", "info", fmt.Sprintf("Canary %s of %s/%s promoted", r.spec.Canary.Version, r.spec.Namespace, r.spec.App),
		fmt.Sprintf("%d measurements, last verdict %s", len(r.status.Measurements), r.lastVerdict()))
	return nil
}

// lastLook ends analysis honestly before promotion: unless a person said
// promote, the canary's last stretch of traffic at its final weight is
// measured and must be Successful (too little traffic is not), and a
// measurement still in flight is judged too — a failure there rolls back.
func (r *run) lastLook(ctx workflow.Context) error {
	if r.sequential() && !r.promoteNow {
		// Every look judges all the data at this weight: the latest must pass,
		// or the rollout waits for more (and then for a person), as a hold does.
		// A final judgement resumed from an earlier run keeps its start, so
		// its extension runs out as it would have in one run.
		if !r.finalResumed {
			r.event(ctx, "gate", fmt.Sprintf("final judgement at %d%% before promotion", r.status.Weight), "")
			r.status.StepStartedAt = workflow.Now(ctx)
		}
		if r.judgeRev3 {
			// A look taken before now may have missed up to an interval of
			// the canary's last traffic: the final judgement needs a new one.
			r.finalFrom = r.status.StepStartedAt
		}
		if err := r.settle(ctx, len(r.spec.Steps), r.status.StepStartedAt, 0, r.finalResumed); err != nil {
			return err
		}
		// The judgement can take hours: a pause sent meanwhile holds the promotion.
		if err := r.whilePaused(ctx, len(r.spec.Steps)); err != nil {
			return err
		}
	} else if workflow.GetVersion(ctx, versionFinalLook, workflow.DefaultVersion, 1) == 1 && !r.promoteNow {
		r.event(ctx, "gate", fmt.Sprintf("final measurement at %d%% before promotion", r.status.Weight), "")
		if err := r.gate(ctx, len(r.spec.Steps), 1, false); err != nil {
			return err
		}
	}
	r.analysisDone = true
	if err := workflow.Await(ctx, func() bool { return r.inFlight == 0 }); err != nil {
		return err
	}
	return ctx.Err()
}

// place asks a worker for the rollout's host queue: host-bound work (local
// processes, their state, a loopback router) must all land on the worker that
// owns the host, not on whichever worker polls the main queue next.
func (r *run) place(ctx workflow.Context) error {
	if !slices.Contains(activities.HostBoundDeployKinds, r.spec.Deploy.Kind) {
		return nil
	}
	var queue string
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts.preflight), a.Placement, r.spec.Deploy.Kind).Get(ctx, &queue); err != nil {
		return &activityFailure{msg: rootMessage(err), err: err}
	}
	r.queue = queue
	if queue != "" {
		r.event(ctx, "placed", "host-bound rollout: its activities run on task queue "+queue, "")
	}
	return nil
}

// refusal stops a rollout before anything was touched: it ends Rejected,
// with no compensation and no incident.
type refusal struct{ msg string }

func (f *refusal) Error() string { return f.msg }

// failure is a rollback cause that is a decision, not an infrastructure error.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

// reasonFor names why the main flow stopped, preferring the recorded cause
// (abort, analysis) over the cancellation error it produced.
func (r *run) reasonFor(err error) string {
	if r.cause != "" {
		return r.cause
	}
	var f *failure
	if errors.As(err, &f) {
		return f.msg
	}
	if temporal.IsCanceledError(err) {
		return "workflow cancelled"
	}
	return err.Error()
}
