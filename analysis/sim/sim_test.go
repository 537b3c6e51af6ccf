package sim

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/analysis"
	"github.com/canaryflow/canaryflow/rollout"
)

func TestDefaultPlanIsTheReferencePlan(t *testing.T) {
	p, err := DefaultPlan()
	require.NoError(t, err)
	// Each hold is extended by its own length while undecided (maxExtension 0).
	assert.Equal(t, []Stage{{10, 15, 15}, {25, 10, 10}, {50, 15, 15}}, p.Stages)
	assert.Equal(t, 40, p.Looks())
	assert.Equal(t, 3, p.JudgeConfig().Weights)
	assert.Equal(t, analysis.Revision3, p.JudgeConfig().Revision)
	// 5 for the final look, then each hold and its extension, a look a minute.
	assert.Equal(t, 5+30+20+30, p.JudgeConfig().RecentLooks)
	assert.Equal(t, analysis.Revision2, p.Revision2Config().Revision)
	assert.Equal(t, analysis.Revision1, p.Revision1Config().Revision)
}

func TestDrawnCountsAreConsistent(t *testing.T) {
	src := newSource(Version{ErrorRate: 0.1, Latency: Healthy}, nil)
	r := rand.NewPCG(1, 2)
	var total rollout.VersionCounts
	for range 200 {
		c := src.draw(r, 50)
		require.Len(t, c.Buckets, len(Buckets(nil)))
		assert.Equal(t, c.Requests, c.Buckets[len(c.Buckets)-1].Count, "+Inf bucket counts every request")
		assert.LessOrEqual(t, c.Errors, c.Requests)
		for i := 1; i < len(c.Buckets); i++ {
			assert.LessOrEqual(t, c.Buckets[i-1].Count, c.Buckets[i].Count, "cumulative")
		}
		total = add(total, c)
	}
	assert.InDelta(t, 10000, total.Requests, 400, "Poisson mean 50 × 200")
	assert.InDelta(t, 0.1, total.Errors/total.Requests, 0.015)
	// Healthy's median is 50 ms, a bucket edge: about half at or below it.
	at50ms := slices.IndexFunc(total.Buckets, func(b rollout.Bucket) bool { return b.LE == 0.05 })
	require.GreaterOrEqual(t, at50ms, 0, "the buckets have a 50 ms edge")
	assert.InDelta(t, 0.5, total.Buckets[at50ms].Count/total.Requests, 0.03)
	assert.Equal(t, rollout.VersionCounts{}, newSource(Version{Dark: true}, nil).draw(r, 50))
}

// TestDecisionTableSmoke runs the table's code path on 20 runs per cell;
// `make bench-decisions` runs the full 1,000.
func TestDecisionTableSmoke(t *testing.T) {
	p, err := DefaultPlan()
	require.NoError(t, err)
	ok := Version{ErrorRate: 0.01, Latency: Healthy}
	cases := []Case{
		{Scenario: Scenario{Name: "A/A", Stable: ok, Canary: ok}, Goal: Quiet},
		{Scenario: Scenario{Name: "errors 30 %", Stable: ok, Canary: Version{ErrorRate: 0.3, Latency: Healthy}}, Goal: Catch},
		{Scenario: Scenario{Name: "dark", Stable: ok, Canary: Version{Dark: true}}, Goal: NeverPromote},
	}
	o := Options{Seed: 7, Runs: 20, Rates: []float64{2, 100}, Cases: cases, Plan: p,
		Judges: append([]Variant{{Name: "judge", Config: p.JudgeConfig()}}, Tunings(p)...)}
	cells, err := Simulate(o)
	require.NoError(t, err)
	require.Len(t, cells, 6)
	for _, c := range cells {
		require.Len(t, c.Deciders, 7)
		for _, s := range c.Deciders {
			assert.Equal(t, 20, s.RolledBack+s.Paused+s.Prom, "%s %g %s", c.Case.Name, c.Rate, s.Decider)
		}
	}
	at := func(name string, rate float64) Cell {
		for _, c := range cells {
			if c.Case.Name == name && c.Rate == rate {
				return c
			}
		}
		t.Fatalf("no cell %s at %g", name, rate)
		return Cell{}
	}
	assert.Equal(t, 20, at("A/A", 100).Deciders[0].Prom, "identical versions with plenty of traffic are promoted")
	assert.Equal(t, 20, at("errors 30 %", 100).Deciders[0].RolledBack)
	assert.Equal(t, 20, at("errors 30 %", 100).Deciders[5].RolledBack, "today's rules too")
	for _, rate := range o.Rates {
		for _, s := range at("dark", rate).Deciders {
			assert.Zero(t, s.Prom, "no promotion without data (%s)", s.Decider)
		}
	}

	// Same seed, same table, whatever the scheduling.
	o.Workers = 1
	again, err := Simulate(o)
	require.NoError(t, err)
	var a, b bytes.Buffer
	require.NoError(t, WriteTable(&a, cells, p.Interval))
	require.NoError(t, WriteTable(&b, again, p.Interval))
	assert.Equal(t, a.String(), b.String())
	require.NoError(t, WriteRequests(&a, cells))
	require.NoError(t, WriteTargets(&a, Targets(cells)))
	assert.Contains(t, a.String(), "| A/A | 100 | judge | 0.0 % | 0.0 % | 100.0 % |")
}

func TestTodaysRulesOnAWindow(t *testing.T) {
	p, err := DefaultPlan()
	require.NoError(t, err)
	src := newSource(Version{ErrorRate: 0, Latency: Healthy}, nil)
	win := rollout.Counts{Canary: rollout.VersionCounts{}, Stable: src.draw(rand.NewPCG(1, 1), 600), Span: rollout.Duration(p.Interval)}
	b := baselineRun{plan: p}
	// No canary data is Inconclusive; the fourth in a row rolls back.
	// (The judge has no such rule: it extends the hold, then asks.)
	for look := 1; look <= 3; look++ {
		assert.False(t, b.look(win, look, 0))
	}
	assert.True(t, b.look(win, 4, 0))
	assert.Equal(t, Result{Outcome: RolledBack, Look: 4, Rule: "inconclusive"}, b.finish(4, 0))
}
