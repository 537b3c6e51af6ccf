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
	alpha := cfg.recentAlpha(4)
	require.InDelta(t, 0.005/(4*85), alpha, 1e-12)
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

func TestTheRecentLookNeverPassesAndIsOffOnceItsLooksAreSpent(t *testing.T) {
	cfg := revision3()
	thin := rollout.Counts{Canary: hist(10, 0, 0, 0, 0), Stable: hist(90, 1, 0, 0, 0), Span: rollout.Duration(time.Minute)}
	// A perfect window does not make thin pooled data pass.
	d := LookRecent(cfg, rollout.JudgeState{}, 10, thin, window(100000, 0))
	assert.Equal(t, rollout.Inconclusive, d.Verdict)

	bad := window(1000, 300)
	st := rollout.JudgeState{RecentLooks: cfg.RecentLooks - 1}
	d = LookRecent(cfg, st, 10, thin, bad)
	assert.Equal(t, rollout.Failed, d.Verdict, "the last look of the budget still judges")
	st.RecentLooks = cfg.RecentLooks
	d = LookRecent(cfg, st, 10, thin, bad)
	assert.NotEqual(t, rollout.Failed, d.Verdict, "past the plan's looks only the pooled test judges")
	assert.Equal(t, cfg.RecentLooks, d.State.RecentLooks)

	// No window (a source that gives none) or revision 2: no recent look.
	d = LookRecent(cfg, rollout.JudgeState{}, 10, thin, nil)
	assert.NotEqual(t, rollout.Failed, d.Verdict)
	assert.Zero(t, d.State.RecentLooks)
	d = LookRecent(revision2(), rollout.JudgeState{}, 10, thin, bad)
	assert.NotEqual(t, rollout.Failed, d.Verdict)
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
