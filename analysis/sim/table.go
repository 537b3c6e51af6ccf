package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/canaryflow/canaryflow/analysis"
)

// Goal is what a scenario must show, checked by Targets.
type Goal int

// Goals from issue 8's "What it must show".
const (
	NoGoal Goal = iota
	// Quiet: identical versions; the judge rolls back at most 1 % of runs.
	Quiet
	// Catch: a bad canary is not promoted in at least 99 % of runs at
	// 10 req/s and more.
	Catch
	// NeverPromote: a canary with no data is never promoted.
	NeverPromote
)

// Case is a scenario with the goal it is checked against.
type Case struct {
	Scenario
	Goal Goal
	// Extra marks a check beyond the list (a canary within the
	// rules, another bucket layout), so the report tells them apart.
	Extra bool
}

// DefaultCases are the scenarios first. Then canaries the judge
// protects (worse than stable, but no more than the rules' tolerance: each
// must be rolled back no more often than identical versions), canaries in
// the indifference zone between the tolerance and the limit (no goal: a
// rollback grows likelier with traffic, which is the point of a limit),
// clearly bad canaries (to compare the traffic each decider needs), and
// latency × 1.5 on services whose latency spreads differently or whose
// histogram has other buckets, because the buckets decide what "1.5 × the
// p95" looks like after interpolation.
func DefaultCases() []Case {
	ok := Version{ErrorRate: 0.01, Latency: Healthy}
	errs := func(p float64) Version { v := ok; v.ErrorRate = p; return v }
	slower := func(f float64) Version { v := ok; v.Latency = Healthy.Scaled(f); return v }
	spread := func(sigma, f float64) Scenario {
		base := Version{ErrorRate: 0.01, Latency: Latency{Median: Healthy.Median, Sigma: sigma}}
		slow := base
		slow.Latency = base.Latency.Scaled(f)
		return Scenario{Name: fmt.Sprintf("latency × %g, σ %.1f", f, sigma), Stable: base, Canary: slow}
	}
	fine := geometric(0.005, 1.1, 10)
	return []Case{
		{Scenario: Scenario{Name: "A/A (1 % errors, same latency)", Stable: ok, Canary: ok}, Goal: Quiet},
		{Scenario: Scenario{Name: "errors 1 % → 4 %", Stable: ok, Canary: errs(0.04)}, Goal: Catch},
		{Scenario: Scenario{Name: "latency × 1.5", Stable: ok, Canary: slower(1.5)}, Goal: Catch},
		{Scenario: Scenario{Name: "no canary traffic", Stable: ok, Canary: Version{Dark: true}}, Goal: NeverPromote},

		{Scenario: Scenario{Name: "protected: errors 1 % → 2.5 %", Stable: ok, Canary: errs(0.025)}, Goal: Quiet, Extra: true},
		{Scenario: Scenario{Name: "protected: latency × 1.25", Stable: ok, Canary: slower(1.25)}, Goal: Quiet, Extra: true},
		{Scenario: Scenario{Name: "indifference zone: errors 1 % → 3 %", Stable: ok, Canary: errs(0.03)}, Extra: true},
		{Scenario: Scenario{Name: "indifference zone: latency × 1.4", Stable: ok, Canary: slower(1.4)}, Extra: true},

		{Scenario: Scenario{Name: "errors 1 % → 8 %", Stable: ok, Canary: errs(0.08)}, Extra: true},
		{Scenario: Scenario{Name: "sudden: errors 1 % → 20 % from minute 8", Stable: ok, Canary: ok, Turn: &Turn{Look: 8, To: errs(0.2)}}, Extra: true},
		{Scenario: Scenario{Name: "sudden: errors 1 % → 8 % from minute 8", Stable: ok, Canary: ok, Turn: &Turn{Look: 8, To: errs(0.08)}}, Extra: true},
		{Scenario: Scenario{Name: "latency × 2", Stable: ok, Canary: slower(2)}, Extra: true},
		{Scenario: Scenario{Name: "latency × 3", Stable: ok, Canary: slower(3)}, Extra: true},

		{Scenario: spread(0.3, 1.5), Extra: true},
		{Scenario: spread(0.8, 1.5), Extra: true},
		{Scenario: Scenario{Name: "latency × 1.5, previous buckets", Stable: ok, Canary: slower(1.5), Buckets: previous}, Extra: true},
		{Scenario: Scenario{Name: "latency × 1.5, buckets 5 ms × 1.1ⁿ", Stable: ok, Canary: slower(1.5), Buckets: fine}, Extra: true},
		{Scenario: Scenario{Name: "A/A, buckets 5 ms × 1.1ⁿ", Stable: ok, Canary: ok, Buckets: fine}, Goal: Quiet, Extra: true},
	}
}

// previous are the middleware's buckets before they were refined around
// typical p95s, to show what the layout does to the latency-ratio rule.
var previous = []float64{.005, .01, .025, .05, .1, .25, .5, .75, 1, 1.5, 2, 3, 5, 10}

// geometric are bucket bounds from lo growing by factor up to at least hi,
// about what a Prometheus native histogram of schema 3 resolves (× 1.09).
func geometric(lo, factor, hi float64) []float64 {
	var out []float64
	for b := lo; ; b *= factor {
		out = append(out, math.Round(b*1e6)/1e6)
		if b >= hi {
			return out
		}
	}
}

// Variant is a judge configuration with the label its rows carry.
type Variant struct {
	Name   string
	Config analysis.Config
}

// Options say what to simulate.
type Options struct {
	Seed  uint64
	Runs  int
	Rates []float64 // total requests per second, stable and canary together
	Cases []Case
	Plan  Plan
	// Judges are the judge configurations to compare; each run feeds the
	// same traffic to every one of them and to today's rules.
	Judges []Variant
	// Workers bounds the runs simulated at once (0: one per CPU).
	Workers int
}

// Summary is one decider's figures over a cell's runs.
type Summary struct {
	Decider                        string
	Runs, RolledBack, Paused, Prom int
	// MedianRollbackLook and MedianPauseLook are the median look of the
	// rollbacks and of the stops for a person, NaN without any.
	MedianRollbackLook, MedianPauseLook float64
	// MedianRequests is the median of the canary requests served when the
	// decider decided (rolled back, stopped for a person, or promoted);
	// MedianRollbackRequests the same over rollbacks only (NaN without any).
	MedianRequests, MedianRollbackRequests float64
	// Rules counts the rollbacks by the rule(s) that caused them.
	Rules map[string]int
}

// Pct is n as a percentage of the runs.
func (s Summary) Pct(n int) float64 { return 100 * float64(n) / float64(max(s.Runs, 1)) }

// Cell is one scenario at one rate: the judge variants first, then today's rules.
type Cell struct {
	Case     Case
	Rate     float64
	Deciders []Summary
}

// Today is the label of today's fixed-window rules.
const Today = "today (baseline)"

// Simulate runs every case at every rate, Runs times each.
func Simulate(o Options) ([]Cell, error) {
	if o.Runs <= 0 || len(o.Judges) == 0 {
		return nil, fmt.Errorf("simulating: need runs > 0 and a judge configuration")
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	cfgs := make([]analysis.Config, len(o.Judges))
	for i, v := range o.Judges {
		cfgs[i] = v.Config
	}
	type cellRuns struct {
		judges [][]Result // by run, then variant
		base   []Result
	}
	runs := make([]cellRuns, len(o.Cases)*len(o.Rates))
	var g errgroup.Group
	g.SetLimit(workers)
	for ci, c := range o.Cases {
		stable, canary := newSource(c.Stable, c.Buckets), newCanary(c.Scenario)
		for ri, rate := range o.Rates {
			cr := &runs[ci*len(o.Rates)+ri]
			cr.judges, cr.base = make([][]Result, o.Runs), make([]Result, o.Runs)
			stream := streamOf(c.Name, rate)
			for r := range o.Runs {
				g.Go(func() error {
					// One PCG stream per run: the table does not depend on
					// the order runs are scheduled in.
					cr.judges[r], cr.base[r] = runWith(o.Plan, cfgs, stable, canary, rate, o.Seed, mix(stream+uint64(r)))
					return nil
				})
			}
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	cells := make([]Cell, 0, len(runs))
	for ci, c := range o.Cases {
		for ri, rate := range o.Rates {
			cr := runs[ci*len(o.Rates)+ri]
			cell := Cell{Case: c, Rate: rate}
			for vi, v := range o.Judges {
				rs := make([]Result, len(cr.judges))
				for r := range cr.judges {
					rs[r] = cr.judges[r][vi]
				}
				cell.Deciders = append(cell.Deciders, summarize(v.Name, rs))
			}
			cell.Deciders = append(cell.Deciders, summarize(Today, cr.base))
			cells = append(cells, cell)
		}
	}
	return cells, nil
}

// streamOf derives a cell's PCG stream from its name and rate, so adding or
// reordering cases leaves the other cells' draws unchanged.
func streamOf(name string, rate float64) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s@%g", name, rate)
	return h.Sum64()
}

// mix is splitmix64's finalizer: neighbouring run numbers get unrelated streams.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func summarize(name string, rs []Result) Summary {
	s := Summary{Decider: name, Runs: len(rs), Rules: map[string]int{}}
	var looks, pauses, reqs, rbReqs []float64
	for _, r := range rs {
		reqs = append(reqs, r.CanaryRequests)
		switch r.Outcome {
		case RolledBack:
			s.RolledBack++
			s.Rules[r.Rule]++
			looks = append(looks, float64(r.Look))
			rbReqs = append(rbReqs, r.CanaryRequests)
		case Paused:
			s.Paused++
			pauses = append(pauses, float64(r.Look))
		case Promoted:
			s.Prom++
		}
	}
	s.MedianRollbackLook, s.MedianPauseLook = median(looks), median(pauses)
	s.MedianRequests, s.MedianRollbackRequests = median(reqs), median(rbReqs)
	return s
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	xs = slices.Clone(xs)
	sort.Float64s(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}

// rulesText lists rollback causes, most frequent first.
func rulesText(m map[string]int) string {
	type kv struct {
		k string
		n int
	}
	var kvs []kv
	for k, n := range m {
		kvs = append(kvs, kv{k, n})
	}
	sort.Slice(kvs, func(i, j int) bool {
		if kvs[i].n != kvs[j].n {
			return kvs[i].n > kvs[j].n
		}
		return kvs[i].k < kvs[j].k
	})
	parts := make([]string, 0, len(kvs))
	for _, e := range kvs {
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.n))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}
