package rollout

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestEvidenceListsCountsRulesAndCustomQueries(t *testing.T) {
	nan := Value(math.NaN())
	m := Measurement{
		Sample: Sample{
			Cumulative: &Counts{Canary: VersionCounts{Requests: 60, Errors: 4}, Stable: VersionCounts{Requests: 540, Errors: 5}, Span: Duration(12 * time.Minute)},
			Window:     &Counts{Canary: VersionCounts{Requests: 6, Errors: 1}, Stable: VersionCounts{Requests: 54, Errors: 0}, Span: Duration(time.Minute)},
			Custom: []CustomResult{
				{Name: "burn", Values: []CustomValue{{Version: "canary", Query: `q{version="canary"}`, Value: 2.4}, {Version: "stable", Query: `q{version="stable"}`, Value: nan}}},
				{Name: "depth", Err: "querying Prometheus: 503"},
			},
		},
		Rules: []RuleResult{{Rule: RuleErrorRate, Verdict: Failed, Critical: true,
			Reason: "canary 4/60 errors (6.7 %, 90 % CI 3.0 %–14.0 %) vs limit 5.0 %: p = 0.002 ≤ 0.0025 → Failed"}},
		CustomRules: []RuleResult{{Rule: "burn", Verdict: Failed, Reason: "burn canary 2.4 ≥ 2 (failureCondition), stable no data → Failed"}},
	}
	assert.Equal(t, []string{
		"counts since the weight began (12m0s): canary 4/60 errors, stable 5/540 errors",
		"counts over the window (1m0s): canary 1/6 errors, stable 0/54 errors",
		"error-rate: canary 4/60 errors (6.7 %, 90 % CI 3.0 %–14.0 %) vs limit 5.0 %: p = 0.002 ≤ 0.0025 → Failed (critical)",
		"burn canary 2.4 ≥ 2 (failureCondition), stable no data → Failed",
		`burn canary = 2.4: q{version="canary"}`,
		`burn stable = no data: q{version="stable"}`,
		"depth: query failed: querying Prometheus: 503",
	}, m.Evidence())
	assert.Empty(t, Measurement{}.Evidence())
}

func TestRuleFiguresForTheReportTable(t *testing.T) {
	r := RuleResult{Rule: RuleErrorIncrease, Estimate: 0.0574, Lo: 0.0198, Hi: 0.131, Limit: 0.03, P: 0.0041, Alpha: 0.0025,
		Canary: &Observed{Events: 4, Total: 60}, Stable: &Observed{Events: 5, Total: 540}}
	est, bounds, limit, p, counts := r.Figures()
	assert.Equal(t, []string{"5.74 %", "1.98 % to 13.1 %", "3 %", "0.0041 (α 0.0025)", "canary 4/60, stable 5/540"}, []string{est, bounds, limit, p, counts})

	nan := Value(math.NaN())
	custom := RuleResult{Rule: "burn", Estimate: 2.4, Lo: nan, Hi: nan, Limit: nan, P: nan, Alpha: nan}
	est, bounds, limit, p, counts = custom.Figures()
	assert.Equal(t, []string{"2.4", "–", "–", "–", "–"}, []string{est, bounds, limit, p, counts}, "a custom metric's figure is its result as it is")
	assert.False(t, custom.Builtin())
	assert.True(t, r.Builtin())

	// A rule failed by the recent look on the last window alone: no p-value,
	// the lower bound decided.
	recent := RuleResult{Rule: RuleErrorRate, Estimate: 0.2, Lo: 0.11, Hi: 0.3, Limit: 0.05, P: nan, Alpha: 1.5e-5,
		Window: Duration(10 * time.Second), Canary: &Observed{Events: 50, Total: 250}}
	_, _, _, p, _ = recent.Figures()
	assert.Equal(t, "lower bound at α 1.5e-05, last 10s", p)
}
