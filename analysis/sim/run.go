package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/canaryflow/canaryflow/analysis"
	"github.com/canaryflow/canaryflow/analysis/stats"
	"github.com/canaryflow/canaryflow/rollout"
)

// Stage is one canary weight of the plan, the number of analysis looks its
// hold lasts, and how many more the workflow extends it by while the
// judge is undecided (analysis.judging.maxExtension; by default the hold's
// own length, at least five intervals).
type Stage struct {
	Weight int
	Looks  int
	Extra  int
}

// Plan is a rollout's timeline as analysis sees it.
type Plan struct {
	Stages []Stage
	// Interval is the time between looks; each look's window is one interval.
	Interval   time.Duration
	Thresholds rollout.Thresholds
	Limits     rollout.Limits
	// Spec is the defaulted spec the plan was read from.
	Spec rollout.Spec
}

// DefaultPlan is the plan a spec with no steps and no analysis section gets
// (10 % for 15 m, 25 % for 10 m, 50 % for 15 m, a look every minute).
func DefaultPlan() (Plan, error) {
	return PlanOf(rollout.Spec{}.WithDefaults())
}

// PlanOf reads the weights and timed holds of a defaulted spec. Only timed
// holds are simulated: an approval wait has no fixed number of looks.
func PlanOf(s rollout.Spec) (Plan, error) {
	a := s.Analysis
	p := Plan{Interval: a.Interval.D(), Thresholds: a.Thresholds, Limits: a.Limits, Spec: s}
	if p.Interval <= 0 || a.Window.D() != p.Interval {
		// Each look's window is simulated as exactly the interval before it.
		return Plan{}, fmt.Errorf("reading the plan: window %s must equal interval %s", a.Window.D(), p.Interval)
	}
	weight := 0
	for i, st := range s.Steps {
		switch {
		case st.SetWeight != nil:
			weight = *st.SetWeight
		case st.Pause != nil && st.Pause.Duration > 0 && weight > 0:
			looks := int(st.Pause.Duration.D() / p.Interval)
			if n := len(p.Stages); n > 0 && p.Stages[n-1].Weight == weight {
				p.Stages[n-1].Looks += looks
			} else {
				p.Stages = append(p.Stages, Stage{Weight: weight, Looks: looks})
			}
		case st.Pause != nil || st.Analysis != nil:
			return Plan{}, fmt.Errorf("reading the plan: step %d is not a setWeight or a timed hold", i)
		}
	}
	if len(p.Stages) == 0 {
		return Plan{}, fmt.Errorf("reading the plan: no timed hold at a non-zero weight")
	}
	for i := range p.Stages {
		// As the workflow's settle.
		ext := a.Extension(time.Duration(p.Stages[i].Looks) * p.Interval)
		p.Stages[i].Extra = int(ext / p.Interval)
	}
	return p, nil
}

// Looks is the plan's total number of looks.
func (p Plan) Looks() int {
	n := 0
	for _, s := range p.Stages {
		n += s.Looks
	}
	return n
}

// JudgeConfig is the judge's configuration for the plan's spec (the
// revision a sequential rollout starts with today: revision 3).
func (p Plan) JudgeConfig() analysis.Config {
	return analysis.Revision3Of(p.Spec)
}

// Revision2Config is the judge without the recent look, for comparison.
func (p Plan) Revision2Config() analysis.Config {
	return analysis.ConfigFor(p.Spec)
}

// Revision1Config is the judge as first shipped, for comparison.
func (p Plan) Revision1Config() analysis.Config {
	c := analysis.DefaultConfig(p.Thresholds, len(p.Stages))
	c.Alpha = p.Spec.Analysis.Judging.FalseRollbackRate
	return c
}

// Outcome is how a simulated rollout ended.
type Outcome int

// Outcomes. Paused is the judge still undecided at the end of a hold: the
// workflow extends the hold and then asks a person; it is never a promotion.
const (
	Promoted Outcome = iota
	RolledBack
	Paused
)

// Result is one rollout's end as one decider saw it.
type Result struct {
	Outcome Outcome
	// Look is the 1-based look the decision was taken at (the last look
	// for a promotion); with a 1 m interval it is the minute.
	Look int
	// CanaryRequests is what the canary served up to that look.
	CanaryRequests float64
	// Rule names what rolled back: a judge rule, or for today's rules
	// "error-rate", "error-increase", "p95", "p95-ratio" or "inconclusive".
	Rule string
}

// Scenario is a pair of versions.
type Scenario struct {
	Name           string
	Stable, Canary Version
	// Buckets are the latency histogram's finite upper bounds; nil is the
	// middleware's DefaultBuckets, what the demo and users' services record.
	Buckets []float64
	// Turn, when set, is a fault that starts in the middle of the rollout:
	// from look Turn.Look on, the canary behaves as Turn.To.
	Turn *Turn
}

// Turn is a canary going bad at a look (1-based, counted over the rollout).
type Turn struct {
	Look int
	To   Version
}

// canarySource is the canary's traffic at each look: one version, or one
// until a Turn and another after it.
type canarySource struct {
	before, after source
	from          int // 0: never turns
}

func newCanary(sc Scenario) canarySource {
	c := canarySource{before: newSource(sc.Canary, sc.Buckets)}
	if sc.Turn != nil {
		c.after, c.from = newSource(sc.Turn.To, sc.Buckets), sc.Turn.Look
	}
	return c
}

func (c canarySource) at(look int) source {
	if c.from > 0 && look >= c.from {
		return c.after
	}
	return c.before
}

// Run simulates one rollout of plan at rate requests per second in total
// and returns each judge configuration's result and today's rules' result.
// Each decider sees traffic from the same seed: the same draws as long as
// they hold the same weights at the same looks.
func Run(p Plan, judges []analysis.Config, sc Scenario, rate float64, seed, stream uint64) ([]Result, Result) {
	return runWith(p, judges, newSource(sc.Stable, sc.Buckets), newCanary(sc), rate, seed, stream)
}

func runWith(p Plan, judges []analysis.Config, stable source, canary canarySource, rate float64, seed, stream uint64) ([]Result, Result) {
	out := make([]Result, len(judges))
	for i, c := range judges {
		out[i] = runJudge(p, c, stable, canary, rate, rand.NewPCG(seed, stream))
	}
	return out, runBaseline(p, stable, canary, rate, rand.NewPCG(seed, stream))
}

// draw is one look's window of traffic at weight (percent).
func draw(p Plan, stable, canary source, rate float64, weight int, src rand.Source) rollout.Counts {
	w, secs := float64(weight)/100, p.Interval.Seconds()
	return rollout.Counts{
		Canary: canary.draw(src, rate*w*secs),
		Stable: stable.draw(src, rate*(1-w)*secs),
		Span:   rollout.Duration(p.Interval),
	}
}

// runJudge is the sequential judge as the workflow runs it: counts since
// the weight began; a look whose Action is RollBack (or, in Revision1, any
// Failed look) rolls back, Undecided stops for a person; a hold ends once
// its last look passed, and is extended (Stage.Extra looks) while it has
// not; undecided at the end of the extension stops for a person, never a
// promotion.
func runJudge(p Plan, cfg analysis.Config, stable source, canary canarySource, rate float64, src rand.Source) Result {
	var st rollout.JudgeState
	look, served := 0, 0.0
	for _, stage := range p.Stages {
		var cum rollout.Counts
		passed := false
		for k := 0; k < stage.Looks+stage.Extra && !passed; k++ {
			look++
			win := draw(p, stable, canary.at(look), rate, stage.Weight, src)
			served += win.Canary.Requests
			cum = rollout.Counts{
				Canary: add(cum.Canary, win.Canary), Stable: add(cum.Stable, win.Stable),
				Span: rollout.Duration(time.Duration(k+1) * p.Interval),
			}
			d := analysis.LookRecent(cfg, st, stage.Weight, cum, &win)
			st = d.State
			switch {
			case d.Action == analysis.RollBack || d.Verdict == rollout.Failed:
				return Result{Outcome: RolledBack, Look: look, CanaryRequests: served, Rule: failedRules(d.Rules)}
			case d.Action == analysis.Undecided:
				return Result{Outcome: Paused, Look: look, CanaryRequests: served}
			}
			passed = k >= stage.Looks-1 && d.Verdict == rollout.Successful
		}
		if !passed {
			return Result{Outcome: Paused, Look: look, CanaryRequests: served}
		}
	}
	return Result{Outcome: Promoted, Look: look, CanaryRequests: served}
}

// runBaseline is today's rules over the holds (they have no extension).
func runBaseline(p Plan, stable source, canary canarySource, rate float64, src rand.Source) Result {
	b := baselineRun{plan: p}
	look, served := 0, 0.0
	for _, stage := range p.Stages {
		for range stage.Looks {
			look++
			win := draw(p, stable, canary.at(look), rate, stage.Weight, src)
			served += win.Canary.Requests
			if b.look(win, look, served) {
				return b.res
			}
		}
	}
	return b.finish(look, served)
}

func failedRules(rs []rollout.RuleResult) string {
	var names []string
	for _, r := range rs {
		if r.Verdict == rollout.Failed {
			names = append(names, r.Rule)
		}
	}
	return strings.Join(names, "+")
}

// baselineRun is today's analysis: each look judges one window's rates with
// rollout.Evaluate, and the spec's limits decide (with the defaults, the
// first Failed rolls back, and so does a fourth Inconclusive in a row).
type baselineRun struct {
	plan                   Plan
	failures, inconclusive int
	res                    Result
	done                   bool
}

func (b *baselineRun) look(win rollout.Counts, look int, served float64) bool {
	v, reasons := rollout.Evaluate(b.plan.Thresholds, sampleOf(win))
	l := b.plan.Limits
	rule := ""
	switch v {
	case rollout.Successful:
		b.inconclusive = 0
	case rollout.Failed:
		b.failures++
		if b.failures > *l.MaxFailures {
			rule = classify(reasons)
		}
	case rollout.Inconclusive:
		b.inconclusive++
		if b.inconclusive > *l.MaxInconclusive {
			rule = "inconclusive"
		}
	}
	if rule == "" {
		return false
	}
	b.res = Result{Outcome: RolledBack, Look: look, CanaryRequests: served, Rule: rule}
	b.done = true
	return true
}

func (b *baselineRun) finish(look int, served float64) Result {
	if !b.done {
		return Result{Outcome: Promoted, Look: look, CanaryRequests: served}
	}
	return b.res
}

// classify names the rules behind rollout.Evaluate's reasons, in the
// judge's words, for the table's "why" column.
func classify(reasons []string) string {
	var names []string
	for _, r := range reasons {
		switch {
		case strings.Contains(r, "× stable p95"):
			names = append(names, analysis.RuleLatencyRatio)
		case strings.Contains(r, "p95"):
			names = append(names, analysis.RuleP95)
		case strings.Contains(r, "> stable"):
			names = append(names, analysis.RuleErrorIncrease)
		case strings.Contains(r, "error rate"):
			names = append(names, analysis.RuleErrorRate)
		default:
			names = append(names, "other")
		}
	}
	return strings.Join(names, "+")
}

// sampleOf is what a rates-only metrics source reports for one window: the
// request rate, the error ratio and the p95/p99 by histogram_quantile; NaN
// where Prometheus would return no data (0/0, an empty histogram).
func sampleOf(c rollout.Counts) rollout.Sample {
	secs := c.Span.D().Seconds()
	return rollout.Sample{Canary: figuresOf(c.Canary, secs), Stable: figuresOf(c.Stable, secs)}
}

func figuresOf(v rollout.VersionCounts, secs float64) rollout.VersionFigures {
	if len(v.Buckets) == 0 && v.Requests == 0 {
		return rollout.NoData()
	}
	f := rollout.VersionFigures{RequestRate: rollout.Value(v.Requests / secs), ErrorRate: rollout.Value(math.NaN())}
	if v.Requests > 0 {
		f.ErrorRate = rollout.Value(v.Errors / v.Requests)
	}
	les := make([]float64, len(v.Buckets))
	cum := make([]float64, len(v.Buckets))
	for i, b := range v.Buckets {
		les[i], cum[i] = float64(b.LE), b.Count
	}
	f.P95 = rollout.Value(stats.QuantileFromBuckets(les, cum, 0.95))
	f.P99 = rollout.Value(stats.QuantileFromBuckets(les, cum, 0.99))
	return f
}
