package analysis

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/canaryflow/canaryflow/rollout"
)

func revision3() Config { return Revision3Of(rollout.Spec{}.WithDefaults()) }

// window is one minute's counts: canary n requests with x errors, stable
// nine times as many at 1 %.
func window(n, x float64) *rollout.Counts {
	return &rollout.Counts{Canary: hist(n, x, 0, 0, 0), Stable: hist(9*n, 0.09*n, 0, 0, 0), Span: rollout.Duration(time.Minute)}
}

func TestPlannedLooksCountHoldsExtensionsGatesAndApprovals(t *testing.T) {
	s := rollout.Spec{}.WithDefaults()
	// The reference plan: 15 m + 10 m + 15 m of holds, each extended by its
	// own length, a look a minute, and 5 for the final look.
	assert.Equal(t, 5+30+20+30, PlannedLooks(s))

	s.Analysis.Judging.MaxExtension = rollout.Duration(2 * time.Minute)
	assert.Equal(t, 5+17+12+17, PlannedLooks(s))

	s.Steps = []rollout.Step{rollout.Weight(10), {Analysis: &rollout.AnalysisStep{Measurements: 3}}, rollout.Weight(50), {Pause: &rollout.Pause{}}}
	assert.Equal(t, 5+gateRetries*3+approvalLooks, PlannedLooks(s))

	s.Steps = []rollout.Step{rollout.Weight(10), {Pause: &rollout.Pause{Timeout: rollout.Duration(30 * time.Minute)}}}
	assert.Equal(t, 5+30, PlannedLooks(s))

	s.Steps = []rollout.Step{rollout.Hold(time.Hour), rollout.Weight(10)} // a hold at weight 0 is not judged
	assert.Equal(t, minRecentLooks, PlannedLooks(s))
}

func TestTheRecentLookFailsOnlyPastItsBound(t *testing.T) {
	cfg := revision3()
	// Four rules, the latency ratio counted twice; the first look of 85.
	alpha := cfg.recentAlpha(5, 1)
	require.InDelta(t, 0.9*0.005/(5*85), alpha, 1e-15)
	pooled := rollout.Counts{Canary: hist(60000, 600, 0, 0, 0), Stable: hist(540000, 5400, 0, 0, 0), Span: rollout.Duration(time.Hour)}
	// The smallest error count in a 1,000-request window whose exact lower
	// bound at one-sided alpha is above the 5 % limit.
	var first float64
	for x := 50.0; x < 200; x++ {
		d := LookRecent(cfg, rollout.JudgeState{}, 10, pooled, window(1000, x))
		if d.Rules[0].Verdict == rollout.Failed {
			first = x
			break
		}
	}
	require.NotZero(t, first)
	// Just under: not failed by the error-rate rule; at: failed, with the
	// window's figures and a reason a person reads.
	under := LookRecent(cfg, rollout.JudgeState{}, 10, pooled, window(1000, first-1))
	assert.NotEqual(t, rollout.Failed, under.Rules[0].Verdict)
	at := LookRecent(cfg, rollout.JudgeState{}, 10, pooled, window(1000, first))
	r := at.Rules[0]
	assert.Equal(t, rollout.Failed, r.Verdict)
	assert.Equal(t, rollout.Duration(time.Minute), r.Window)
	assert.Greater(t, float64(r.Lo), 0.05)
	assert.True(t, math.IsNaN(float64(r.P)), "the decision rests on the bound, not a p-value")
	assert.Contains(t, r.Reason, "error-rate over the last 1m0s alone: canary")
	assert.Equal(t, RollBack, at.Action)
	assert.Equal(t, 1, at.State.RecentLooks)

	// The bound is exact (Clopper-Pearson): at the limit itself, the chance
	// of a window reaching that many errors is within the look's alpha.
	tail := 1 - distuv.Binomial{N: 1000, P: 0.05}.CDF(first-1)
	assert.LessOrEqual(t, tail, alpha, "P(X ≥ %v | n=1000, p=5 %%) = %g", first, tail)
}

func TestTheRecentLookNeverPassesAndGetsStricterPastThePlansLooks(t *testing.T) {
	cfg := revision3()
	thin := rollout.Counts{Canary: hist(10, 0, 0, 0, 0), Stable: hist(90, 1, 0, 0, 0), Span: rollout.Duration(time.Minute)}
	// A perfect window does not make thin pooled data pass.
	d := LookRecent(cfg, rollout.JudgeState{}, 10, thin, window(100000, 0))
	assert.Equal(t, rollout.Inconclusive, d.Verdict)

	bad := window(1000, 300)
	st := rollout.JudgeState{RecentLooks: cfg.RecentLooks - 1}
	d = LookRecent(cfg, st, 10, thin, bad)
	require.Equal(t, rollout.Failed, d.Verdict, "the last planned look judges")
	planned := float64(d.Rules[0].Alpha)
	// Past the plan's looks (a long approval wait) it still judges, stricter.
	st.RecentLooks = 10 * cfg.RecentLooks
	d = LookRecent(cfg, st, 10, thin, bad)
	require.Equal(t, rollout.Failed, d.Verdict, "never off")
	assert.Less(t, float64(d.Rules[0].Alpha), planned/100)
	assert.Equal(t, 10*cfg.RecentLooks+1, d.State.RecentLooks)

	// No window (a source that gives none), a window with fewer canary
	// requests than MinRequests, or revision 2: no recent look, none spent.
	for name, win := range map[string]*rollout.Counts{"no window": nil, "29 requests, all errors": window(29, 29)} {
		d = LookRecent(cfg, rollout.JudgeState{}, 10, thin, win)
		assert.NotEqual(t, rollout.Failed, d.Verdict, name)
		assert.Zero(t, d.State.RecentLooks, name)
	}
	d = LookRecent(revision2(), rollout.JudgeState{}, 10, thin, bad)
	assert.NotEqual(t, rollout.Failed, d.Verdict)
}

// The recent looks spend at most their half of alpha, however many there are.
func TestTheRecentLooksSpendAtMostTheirShare(t *testing.T) {
	cfg := revision3()
	sum := 0.0
	for k := 1; k <= 1_000_000; k++ {
		sum += cfg.recentAlpha(5, k)
	}
	assert.LessOrEqual(t, sum, recentShare*cfg.Alpha/5)
	assert.Greater(t, sum, 0.99*recentShare*cfg.Alpha/5, "and spend nearly all of it")
}

func TestTheRecentLookFailsTheErrorIncreaseAlone(t *testing.T) {
	cfg := revision3()
	pooled := rollout.Counts{Canary: hist(60000, 600, 0, 0, 0), Stable: hist(540000, 5400, 0, 0, 0), Span: rollout.Duration(time.Hour)}
	// 4 % in the window against stable's 1 %: under the 5 % limit, but
	// confidently more than 1.5 points over stable.
	d := LookRecent(cfg, rollout.JudgeState{}, 10, pooled, window(5000, 200))
	got := map[string]rollout.RuleResult{}
	for _, r := range d.Rules {
		got[r.Rule] = r
	}
	assert.NotEqual(t, rollout.Failed, got[RuleErrorRate].Verdict)
	require.Equal(t, rollout.Failed, got[RuleErrorIncrease].Verdict)
	assert.Contains(t, got[RuleErrorIncrease].Reason, "vs stable 450/45000")
	assert.Equal(t, RollBack, d.Action)
}

func TestARuleThePooledTestFailedKeepsThePooledEvidence(t *testing.T) {
	cfg := revision3()
	bad := rollout.Counts{Canary: hist(6000, 1200, 0, 0, 0), Stable: hist(54000, 540, 0, 0, 0), Span: rollout.Duration(time.Hour)}
	d := LookRecent(cfg, rollout.JudgeState{}, 10, bad, window(1000, 300))
	require.Equal(t, rollout.Failed, d.Rules[0].Verdict)
	assert.Zero(t, d.Rules[0].Window, "failed on all the data: its p-value, not the window's bound")
	assert.False(t, math.IsNaN(float64(d.Rules[0].P)))
}

func TestTheRecentLookCarriesAcrossWeights(t *testing.T) {
	cfg := revision3()
	d := LookRecent(cfg, rollout.JudgeState{}, 10, *window(100, 1), window(100, 1))
	d = LookRecent(cfg, d.State, 25, *window(100, 1), window(100, 1))
	assert.Equal(t, 2, d.State.RecentLooks, "one budget for the whole rollout")
}

func TestTheRecentLookJudgesEachRuleOnTheWindow(t *testing.T) {
	cfg := revision3()
	pooled := rollout.Counts{Canary: hist(60000, 600, 0, 0, 0), Stable: hist(540000, 5400, 0, 0, 0), Span: rollout.Duration(time.Hour)}
	// 30 % of the window's requests over 10 s: p95 fails; errors do not.
	slow := &rollout.Counts{Canary: hist(1000, 10, 0, 0, 0.3), Stable: hist(9000, 90, 0, 0, 0), Span: rollout.Duration(time.Minute)}
	d := LookRecent(cfg, rollout.JudgeState{}, 10, pooled, slow)
	got := map[string]rollout.Verdict{}
	for _, r := range d.Rules {
		got[r.Rule] = r.Verdict
	}
	assert.Equal(t, rollout.Failed, got[RuleP95])
	assert.Equal(t, rollout.Failed, got[RuleLatencyRatio])
	assert.NotEqual(t, rollout.Failed, got[RuleErrorRate])
	assert.NotEqual(t, rollout.Failed, got[RuleErrorIncrease])
	// Identical versions in the window fail nothing.
	d = LookRecent(cfg, rollout.JudgeState{}, 10, pooled, window(1000, 10))
	assert.Equal(t, rollout.Successful, d.Verdict)
}

// Window counts are a provider's answer: NaN, infinite or negative counts
// (a counter reset, a broken exporter) are no evidence, never a rollback.
func TestHostileWindowCountsFailNothing(t *testing.T) {
	cfg := revision3()
	pooled := rollout.Counts{Canary: hist(60000, 600, 0, 0, 0), Stable: hist(540000, 5400, 0, 0, 0), Span: rollout.Duration(time.Hour)}
	nan, inf := math.NaN(), math.Inf(1)
	for name, c := range map[string]rollout.VersionCounts{
		"NaN requests":      {Requests: nan, Errors: 10},
		"NaN errors":        {Requests: 1000, Errors: nan},
		"infinite requests": {Requests: inf, Errors: inf},
		"negative requests": {Requests: -1000, Errors: -500},
		"negative errors":   {Requests: 1000, Errors: -500},
		"NaN buckets":       {Requests: 1000, Errors: 0, Buckets: []rollout.Bucket{{LE: rollout.Value(nan), Count: nan}, {LE: rollout.Value(inf), Count: 1000}}},
	} {
		win := &rollout.Counts{Canary: c, Stable: hist(9000, 90, 0, 0, 0), Span: rollout.Duration(time.Minute)}
		require.NotPanics(t, func() {
			d := LookRecent(cfg, rollout.JudgeState{}, 10, pooled, win)
			for _, r := range d.Rules {
				assert.Zero(t, r.Window, "%s: %s not failed on the window", name, r.Rule)
			}
		}, name)
	}
}
