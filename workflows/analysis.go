package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/analysis"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/telemetry"
)

// analyze measures every interval while the canary has traffic, until
// promotion begins. A verdict that exceeds a limit stops the main flow at once.
func (r *run) analyze(ctx workflow.Context) {
	every := r.spec.Analysis.Interval.D()
	for {
		if _, err := workflow.AwaitWithTimeout(ctx, every, func() bool { return r.analysisDone }); err != nil {
			return
		}
		if r.analysisDone || ctx.Err() != nil {
			return
		}
		if r.status.Weight == 0 || r.gating {
			continue
		}
		r.measure(ctx, "background")
	}
}

// gate is an inline analysis step (step i, or the final look when i is the
// number of steps): it passes after n successful measurements in a row.
// Anything else resets the count; limits decide when to give up. A long gate
// continues as new with its count, so thin traffic cannot grow one history
// without bound.
func (r *run) gate(ctx workflow.Context, i, n int, resumed bool) error {
	every := r.spec.Analysis.Interval.D()
	r.gating = true
	defer func() { r.gating = false }()
	if !resumed {
		r.gateOK = 0
	}
	for r.gateOK < n {
		if _, err := workflow.AwaitWithTimeout(ctx, every, func() bool { return r.promoteNow }); err != nil {
			return err
		}
		if r.promoteNow {
			return nil
		}
		if r.measure(ctx, "gate") == rollout.Successful {
			r.gateOK++
		} else {
			r.gateOK = 0
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.hardened && r.gateOK < n && r.longRun(ctx) {
			return r.continueAsNew(ctx, i, true)
		}
	}
	r.gateOK = 0
	r.event(ctx, "gate", fmt.Sprintf("analysis gate passed: %d of %d successful in a row", n, n), "")
	return nil
}

// measure takes, judges and records one measurement, and stops the rollout
// when a limit is exceeded. Too little traffic is Inconclusive, never a pass.
func (r *run) measure(ctx workflow.Context, kind string) rollout.Verdict {
	weight := r.status.Weight
	began := workflow.Now(ctx)
	var res activities.MeasureResult
	r.inFlight++
	r.measuredThisRun++
	var f workflow.Future
	if r.localMeasure && r.queue == "" {
		// A local activity: its result is one marker in history instead of
		// scheduled, started and completed events and a second workflow task
		// (6 events per measurement instead of 11), which is what lets one
		// worker and server keep many rollouts' measurements on time.
		f = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, opts.measureLocal()), a.Measure, r.measureInput())
	} else {
		// Host-bound rollouts measure on their host's queue.
		f = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, r.on(opts.measure(r.spec))), a.Measure, r.measureInput())
	}
	err := f.Get(ctx, &res)
	r.inFlight--
	if ctx.Err() != nil {
		return ""
	}
	m := rollout.Measurement{At: workflow.Now(ctx), Step: r.status.Step, Weight: weight, Sample: res.Sample}
	switch {
	case err != nil:
		m.Verdict, m.Reasons = rollout.Error, []string{rootMessage(err)}
	case res.Verdict != "":
		m.Verdict, m.Reasons = res.Verdict, []string{res.Reason}
	default:
		if v, rules, ok := r.judge(weight, res.Sample); ok {
			m.Verdict, m.Rules, m.Reasons = v, rules, analysis.Reasons(rules)
			break
		}
		// Custom metrics go in CustomRules, not Rules: Rules mark the
		// sequential judge's looks (see overLimit).
		m.Verdict, m.Reasons, m.CustomRules = rollout.EvaluateAnalysis(r.spec.Analysis, res.Sample)
	}
	r.record(m)
	r.lastLookBegan = began
	telemetry.Measured(ctx, m.Verdict)
	r.showDetails(ctx)
	workflow.GetLogger(ctx).Info("measurement", "kind", kind, "weight", weight, "verdict", m.Verdict, "reasons", m.Reasons)
	cause, judged := r.act(ctx)
	if !judged {
		cause = r.overLimit(m)
	} else if m.Verdict == rollout.Successful || m.Verdict == rollout.Failed {
		// The judge's limits apply per rule; the run's own counters only
		// track measurement errors, which the judge never sees.
		r.counters.ErrorsInARow = 0
	}
	if cause != "" {
		r.stopWith(ctx, cause, "")
	}
	return m.Verdict
}

func (r *run) record(m rollout.Measurement) {
	r.status.Measurements = append(r.status.Measurements, m)
	r.status.MeasurementsTaken++
	if n := len(r.status.Measurements); n > maxMeasurements {
		r.status.Measurements = r.status.Measurements[n-maxMeasurements:]
	}
}

// overLimit counts m under the spec's limits (analysis.Count) and returns
// a rollback cause if a limit is now exceeded.
func (r *run) overLimit(m rollout.Measurement) string {
	var cause string
	r.counters, cause = analysis.Count(r.spec.Analysis.Limits, r.counters, m)
	return cause
}
