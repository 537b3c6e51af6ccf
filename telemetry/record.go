package telemetry

import (
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// The workflow side: one call per place the rollout's state changes. Each
// takes the workflow context so that emission goes through
// workflow.GetMetricsHandler, which drops everything while the history is
// replayed; durations use workflow.Now, so a replay could not change them
// either.

// PhaseChanged records a rollout leaving s.Phase for to. Call it before the
// status takes the new phase. Besides counting the phase entered it counts a
// rollback when one begins (not when a person retries a failed one), ends
// the step in progress when the rollout leaves its steps, and ends the
// rollout when to is final (RollbackFailed ends only once resolved, see
// Resolved).
func PhaseChanged(ctx workflow.Context, steps []rollout.Step, s rollout.Status, to rollout.Phase) {
	h := workflow.GetMetricsHandler(ctx)
	now := workflow.Now(ctx)
	EnterPhase(h, to)
	from := s.Phase
	if to == rollout.PhaseRollingBack && from != rollout.PhaseRollbackFailed {
		RollbackBegun(h, RollbackCause(s.Reason))
	}
	if (to == rollout.PhasePromoting || to == rollout.PhaseRollingBack) && inSteps(from) && s.Step > 0 && s.Step <= len(steps) {
		StepEnded(h, StepKind(steps[s.Step-1]), now.Sub(s.StepStartedAt))
	}
	switch to {
	case rollout.PhasePromoted, rollout.PhaseRolledBack:
		// Both leave the canary without traffic. A Rejected spec's names
		// are not trusted as label values, so Rejected sets no weight.
		SetWeight(h, s.Namespace, s.App, 0)
		Ended(h, to, now.Sub(startedAt(s, now)))
	case rollout.PhaseRejected:
		Ended(h, to, now.Sub(startedAt(s, now)))
	}
}

// StepBegun records the end of the step in progress, if any, as step i
// begins. Call it before the status moves to step i.
func StepBegun(ctx workflow.Context, steps []rollout.Step, s rollout.Status) {
	if s.Step <= 0 || s.Step > len(steps) {
		return
	}
	StepEnded(workflow.GetMetricsHandler(ctx), StepKind(steps[s.Step-1]), workflow.Now(ctx).Sub(s.StepStartedAt))
}

// WeightSet records the canary weight just set for a rollout.
func WeightSet(ctx workflow.Context, namespace, app string, weight int) {
	SetWeight(workflow.GetMetricsHandler(ctx), namespace, app, weight)
}

// Measured records a judged measurement.
func Measured(ctx workflow.Context, v rollout.Verdict) {
	Measurement(workflow.GetMetricsHandler(ctx), v)
}

// Resolved records the end of a RollbackFailed rollout that a person resolved.
func Resolved(ctx workflow.Context, s rollout.Status) {
	now := workflow.Now(ctx)
	Ended(workflow.GetMetricsHandler(ctx), rollout.PhaseRollbackFailed, now.Sub(startedAt(s, now)))
}

// The handler side: plain functions over client.MetricsHandler, usable with
// activity.GetMetricsHandler in an activity as well.

// EnterPhase counts a rollout entering phase p.
func EnterPhase(h client.MetricsHandler, p rollout.Phase) {
	h.WithTags(map[string]string{LabelPhase: string(p)}).Counter(instPhaseEntered).Inc(1)
}

// Ended counts a rollout that ended in phase p after d.
func Ended(h client.MetricsHandler, p rollout.Phase, d time.Duration) {
	t := h.WithTags(map[string]string{LabelPhase: string(p)})
	t.Counter(instEnded).Inc(1)
	t.Timer(instRolloutLasting).Record(max(d, 0))
}

// RollbackBegun counts a rollback of the given cause (see RollbackCause).
func RollbackBegun(h client.MetricsHandler, cause string) {
	h.WithTags(map[string]string{LabelCause: cause}).Counter(instRollbacks).Inc(1)
}

// Measurement counts a measurement's verdict.
func Measurement(h client.MetricsHandler, v rollout.Verdict) {
	h.WithTags(map[string]string{LabelVerdict: string(v)}).Counter(instMeasurements).Inc(1)
}

// SetWeight sets a rollout's canary weight gauge.
func SetWeight(h client.MetricsHandler, namespace, app string, weight int) {
	h.WithTags(map[string]string{LabelRolloutNamespace: namespace, LabelRolloutApp: app}).Gauge(instWeight).Update(float64(weight))
}

// StepEnded records how long a step of the given kind (see StepKind) took.
func StepEnded(h client.MetricsHandler, kind string, d time.Duration) {
	h.WithTags(map[string]string{LabelKind: kind}).Timer(instStepDuration).Record(max(d, 0))
}

// StepKind names a step's kind for the kind label: setWeight, pause (timed),
// approval (waits for a person) or analysis.
func StepKind(s rollout.Step) string {
	switch {
	case s.SetWeight != nil:
		return "setWeight"
	case s.Pause != nil && s.Pause.Duration > 0:
		return "pause"
	case s.Pause != nil:
		return "approval"
	case s.Analysis != nil:
		return "analysis"
	}
	return "other"
}

// Rollback causes, the values of the cause label.
const (
	CauseAnalysis        = "analysis"
	CauseSmoke           = "smoke"
	CauseAbort           = "abort"
	CauseApprovalTimeout = "approval_timeout"
	CauseCancelled       = "cancelled"
	CauseError           = "error"
)

// RollbackCause sorts a rollback reason (rollout.Status.Reason) into one of
// a few causes, so the cause label stays bounded whatever the reason says.
// It reads the leading words the workflow writes for each cause; anything
// else (an activity that gave up, a refused continuation) is "error".
func RollbackCause(reason string) string {
	switch {
	case strings.HasPrefix(reason, "analysis "), strings.HasPrefix(reason, "metrics unavailable"),
		undecided(reason):
		return CauseAnalysis
	case strings.HasPrefix(reason, "smoke test"):
		return CauseSmoke
	case strings.HasPrefix(reason, "aborted"):
		return CauseAbort
	case strings.HasPrefix(reason, "approval of step"):
		return CauseApprovalTimeout
	case strings.HasPrefix(reason, "workflow cancelled"):
		return CauseCancelled
	}
	return CauseError
}

// undecided matches sequential judgement's "<w>% still undecided after
// holding …", which rolls back under onInconclusive: rollback.
func undecided(reason string) bool {
	w, rest, ok := strings.Cut(reason, "% still undecided after holding")
	if !ok {
		return false
	}
	_, err := strconv.Atoi(w)
	return err == nil && rest != ""
}

// inSteps reports whether a rollout in phase p is walking its steps (or
// waiting within one), so that leaving p ends the step in progress.
func inSteps(p rollout.Phase) bool {
	return p == rollout.PhaseProgressing || p == rollout.PhaseAwaitApproval || p == rollout.PhasePaused
}

// startedAt is when the rollout began: its first event, which the status
// keeps across continue-as-new (the event log keeps its first entries).
func startedAt(s rollout.Status, now time.Time) time.Time {
	if len(s.Events) == 0 || s.Events[0].At.IsZero() {
		return now
	}
	return s.Events[0].At
}
