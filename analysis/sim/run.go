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

// Stage is one canary weight of the plan and the number of analysis looks
// its hold lasts.
type Stage struct {
	Weight int
	Looks  int
}

// Plan is a rollout's timeline as analysis sees it.
type Plan struct {
	Stages []Stage
	// Interval is the time between looks; each look's window is one interval.
	Interval   time.Duration
	Thresholds rollout.Thresholds
	Limits     rollout.Limits
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
	p := Plan{Interval: a.Interval.D(), Thresholds: a.Thresholds, Limits: a.Limits}
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

// JudgeConfig is the judge's default configuration for the plan.
func (p Plan) JudgeConfig() analysis.Config {
	return analysis.DefaultConfig(p.Thresholds, len(p.Stages))
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
}

// Run simulates one rollout of plan at rate requests per second in total
// and returns each judge configuration's result and today's rules' result,
// all from the same traffic.
func Run(p Plan, judges []analysis.Config, sc Scenario, rate float64, src rand.Source) ([]Result, Result) {
	return runWith(p, judges, newSource(sc.Stable, sc.Buckets), newSource(sc.Canary, sc.Buckets), rate, src)
}

func runWith(p Plan, judges []analysis.Config, stable, canary source, rate float64, src rand.Source) ([]Result, Result) {
	secs := p.Interval.Seconds()
	js := make([]judgeRun, len(judges))
	for i, c := range judges {
		js[i] = judgeRun{cfg: c}
	}
	base := baselineRun{plan: p}
	open := len(js) + 1
	look, served := 0, 0.0
	for _, stage := range p.Stages {
		var cum rollout.Counts
		w := float64(stage.Weight) / 100
		for k := 0; k < stage.Looks && open > 0; k++ {
			look++
			win := rollout.Counts{
				Canary: canary.draw(src, rate*w*secs),
				Stable: stable.draw(src, rate*(1-w)*secs),
				Span:   rollout.Duration(p.Interval),
			}
			served += win.Canary.Requests
			cum = rollout.Counts{
				Canary: add(cum.Canary, win.Canary), Stable: add(cum.Stable, win.Stable),
				Span: rollout.Duration(time.Duration(k+1) * p.Interval),
			}
			last := k == stage.Looks-1
			for i := range js {
				if !js[i].done && js[i].look(stage.Weight, cum, last, look, served) {
					open--
				}
			}
			if !base.done && base.look(win, look, served) {
				open--
			}
		}
	}
	out := make([]Result, len(js))
	for i, j := range js {
		out[i] = j.finish(look, served)
	}
	return out, base.finish(look, served)
}

// judgeRun is the sequential judge: cumulative counts since the weight
// began, any Failed rolls back, a hold whose last look is not Successful
// stops for a person.
type judgeRun struct {
	cfg  analysis.Config
	st   rollout.JudgeState
	res  Result
	done bool
}

func (j *judgeRun) look(weight int, cum rollout.Counts, last bool, look int, served float64) bool {
	v, rules, st := analysis.Judge(j.cfg, j.st, weight, cum)
	j.st = st
	switch {
	case v == rollout.Failed:
		j.res = Result{Outcome: RolledBack, Look: look, CanaryRequests: served, Rule: failedRules(rules)}
	case last && v != rollout.Successful:
		j.res = Result{Outcome: Paused, Look: look, CanaryRequests: served}
	default:
		return false
	}
	j.done = true
	return true
}

func (j *judgeRun) finish(look int, served float64) Result {
	if !j.done {
		return Result{Outcome: Promoted, Look: look, CanaryRequests: served}
	}
	return j.res
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
