package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/analysis"
	"github.com/canaryflow/canaryflow/rollout"
)

// sequential reports whether this rollout is judged by package analysis on
// counts since each weight began (versionSequential, and the spec asks).
func (r *run) sequential() bool {
	return r.seq && r.spec.Analysis.Judging.Method == rollout.MethodSequential
}

// measureInput is what the Measure activity needs; a sequential rollout
// also asks for counts since the current weight began.
func (r *run) measureInput() activities.MeasureInput {
	in := activities.MeasureInputOf(r.spec)
	if r.sequential() {
		in.Since = r.status.WeightSince
	}
	return in
}

// judge decides a sample that carries counts, carrying the sequential
// state in status; ok is false when the sample has none to judge.
func (r *run) judge(weight int, s rollout.Sample) (v rollout.Verdict, rules []rollout.RuleResult, ok bool) {
	if !r.sequential() || s.Cumulative == nil {
		return "", nil, false
	}
	if rev3 := r.judgeRev3 && !r.judgedBefore3(); rev3 || r.judgeRev2 {
		cfg := analysis.ConfigFor(r.spec)
		if rev3 {
			cfg = analysis.Revision3Of(r.spec)
		}
		// Revision 2 has no recent look: it ignores the window.
		d := analysis.WithCustom(cfg, analysis.LookRecent(cfg, r.status.Judge, weight, *s.Cumulative, s.Window), rollout.EvaluateCustom(r.spec.Analysis.Metrics, s))
		r.status.Judge, r.decision = d.State, &d
		return d.Verdict, d.Rules, true
	}
	cfg := analysis.DefaultConfig(r.spec.Analysis.Thresholds, r.spec.MeasuredWeights())
	cfg.Alpha = r.spec.Analysis.Judging.FalseRollbackRate
	v, rules, r.status.Judge = analysis.Judge(cfg, r.status.Judge, weight, *s.Cumulative)
	return v, rules, true
}

// judgedBefore3 reports whether the carried state holds looks an earlier
// revision took: a rollout that started before judge-revision-3 and
// continued as new keeps its judgement (a new history's GetVersion alone
// would switch it mid-rollout).
func (r *run) judgedBefore3() bool {
	st := r.status.Judge
	return st.Revision == 0 && len(st.MinP) > 0
}

// act applies what a revision-2 look asked (see analysis.Look): roll back
// with its cause, or — a rule undecided past its own limit — hand the
// rollout to a person: the steps pause (resume or promote continues, abort
// rolls back), or it rolls back when the spec says onInconclusive: rollback.
// It reports whether the look was the judge's to handle.
func (r *run) act(ctx workflow.Context) (cause string, handled bool) {
	d := r.decision
	if d == nil {
		return "", false
	}
	r.decision = nil
	switch d.Action {
	case analysis.RollBack:
		return d.Cause, true
	case analysis.Undecided:
		if r.spec.Analysis.Judging.OnInconclusive == rollout.OnInconclusiveRollback {
			return d.Cause, true
		}
		if !r.paused && r.active() {
			r.paused, r.status.Paused = true, true
			r.event(ctx, "undecided", d.Cause+": steps paused for a person (resume or promote continues, abort rolls back)", "")
		}
	}
	return "", true
}

// decided reports whether the latest look at the current weight passed
// (and, for the final judgement from judge revision 3, was begun after the
// judgement began: the last stretch of traffic must be judged too).
func (r *run) decided() bool {
	m, ok := r.status.LastMeasurement()
	fresh := r.finalFrom.IsZero() || !r.lastLookBegan.Before(r.finalFrom)
	return ok && fresh && m.Weight == r.status.Weight && m.Weight > 0 && m.Verdict == rollout.Successful
}

// passedButStale reports whether the latest look at the current weight
// passed but began before the final judgement did: the judgement only
// waits for the next look, which is no extension to announce.
func (r *run) passedButStale() bool {
	m, ok := r.status.LastMeasurement()
	return ok && !r.finalFrom.IsZero() && r.lastLookBegan.Before(r.finalFrom) &&
		m.Weight == r.status.Weight && m.Verdict == rollout.Successful
}

// settle holds step i past its end while its weight is undecided: analysis
// keeps measuring, and each look uses all the data since the weight began.
// When the extension (from start + base) runs out still undecided, the
// rollout rolls back or waits for a person, as the spec says — never a
// promotion on too little data.
func (r *run) settle(ctx workflow.Context, i int, start time.Time, base time.Duration, resumed bool) error {
	j := r.spec.Analysis.Judging
	ext := r.spec.Analysis.Extension(base)
	end := start.Add(base + ext)
	announced := false
	for !r.decided() && !r.promoteNow {
		left := end.Sub(workflow.Now(ctx))
		if left <= 0 && r.judgeRev3 && r.lastLookBegan.Before(start.Add(base)) {
			// No look was taken during the extension (a worker down the whole
			// time, or a run continued since): an outage is not a verdict.
			// The next look decides whether it runs out undecided.
			taken := r.status.MeasurementsTaken
			if err := workflow.Await(ctx, func() bool { return r.status.MeasurementsTaken > taken || r.promoteNow }); err != nil {
				return err
			}
			continue
		}
		if left <= 0 {
			break
		}
		if !announced && !resumed && !r.passedButStale() {
			r.event(ctx, "extend", fmt.Sprintf("%d%% is undecided (%s): holding up to %s more to gather data",
				r.status.Weight, r.lastReason(), left.Round(time.Second)), "")
		}
		announced = true
		if _, err := workflow.AwaitWithTimeout(ctx, left, func() bool { return r.decided() || r.promoteNow || r.longRun(ctx) }); err != nil {
			return err
		}
		if !r.decided() && !r.promoteNow && r.longRun(ctx) {
			return r.continueAsNew(ctx, i, true)
		}
	}
	if r.decided() || r.promoteNow {
		return nil
	}
	why := fmt.Sprintf("%d%% still undecided after holding %s more: %s", r.status.Weight, ext, r.lastReason())
	if j.OnInconclusive == rollout.OnInconclusiveRollback {
		return &failure{why}
	}
	r.event(ctx, "undecided", why+": a person decides (approve continues, abort rolls back)", "")
	return r.awaitApproval(ctx, i, rollout.Pause{}, resumed)
}

// lastReason is the latest look's reasons, for the event log.
func (r *run) lastReason() string {
	if m, ok := r.status.LastMeasurement(); ok && len(m.Reasons) > 0 {
		return joinReasons(m.Reasons)
	}
	return "no measurement yet"
}
