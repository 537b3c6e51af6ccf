package analysis

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// customResult is a custom metric's result with a verdict, as
// rollout.EvaluateCustom returns it.
func customResult(name string, v rollout.Verdict, critical bool) rollout.RuleResult {
	nan := rollout.Value(math.NaN())
	return rollout.RuleResult{Rule: name, Verdict: v, Reason: name + " says " + string(v), Critical: critical,
		Estimate: 1, Lo: nan, Hi: nan, Limit: nan, P: nan, Alpha: nan}
}

// specWith is a sequential spec with custom metrics named name (critical
// when asked) and, when maxFailures >= 0, that many tolerated failures.
func specWith(critical bool, maxFailures int, names ...string) rollout.Spec {
	s := rollout.Spec{}.WithDefaults()
	s.Analysis.Judging.Method = rollout.MethodSequential
	for _, n := range names {
		m := rollout.CustomMetric{Name: n, Query: "up", FailureCondition: "result >= 2", Critical: critical}
		if maxFailures >= 0 {
			m.MaxFailures = &maxFailures
		}
		s.Analysis.Metrics = append(s.Analysis.Metrics, m)
	}
	return s
}

func TestConfigForTakesTheCustomMetricsCriticalAndLimits(t *testing.T) {
	c := ConfigFor(specWith(true, 2, "burn"))
	assert.Equal(t, []string{"burn"}, c.Critical)
	assert.Equal(t, RuleLimit{MaxFailures: 2, MaxInconclusive: -1}, c.Limits.rule("burn"))
	c = ConfigFor(specWith(false, -1, "burn"))
	assert.Empty(t, c.Critical)
	assert.Equal(t, RuleLimit{MaxFailures: 0, MaxInconclusive: -1}, c.Limits.rule("burn"), "analysis.limits.maxFailures when unset")
}

// Without custom results (or for a look not taken) a decision is exactly
// what Look made: a rollout without custom metrics decides as before.
func TestWithCustomLeavesADecisionWithoutCustomResultsAlone(t *testing.T) {
	cfg := v2(DefaultScore)
	d := aggregate(cfg, 10, results(ok, ok, unk, ok), rollout.JudgeState{Weight: 10})
	assert.Equal(t, d, WithCustom(cfg, d, nil))
	e := Errored(cfg, d.State, "prometheus down")
	assert.Equal(t, e, WithCustom(cfg, e, []rollout.RuleResult{customResult("burn", bad, true)}))
}

func TestWithCustomWeighsMetricsAsRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config
		rules    []rollout.RuleResult
		custom   rollout.RuleResult
		want     rollout.Verdict
		action   Action
		score    float64
		inReason string
	}{
		{"all pass", v2(DefaultScore), results(ok, ok, ok, ok), customResult("burn", ok, false), ok, Continue, 100, ""},
		{"metric undecided holds the weight", v2(DefaultScore), results(ok, ok, ok, ok), customResult("burn", unk, false), unk, Continue, 80, ""},
		{"metric errored is never a pass", v2(DefaultScore), results(ok, ok, ok, ok), customResult("burn", rollout.Error, false), unk, Continue, 80, ""},
		{"metric failed rolls back", v2(DefaultScore), results(ok, ok, ok, ok), customResult("burn", bad, false), bad, RollBack, 80, "score at most 80 < marginal 100 (burn failed): burn says Failed"},
		{"rules failed and metric passed still roll back", v2(DefaultScore), results(bad, ok, ok, ok), customResult("burn", ok, false), bad, RollBack, 80, "(error-rate failed)"},
		// With a lenient score a failed metric only fails when critical.
		{"non-critical failure above marginal", v2(Score{Pass: 80, Marginal: 50}), results(ok, ok, ok, ok), customResult("burn", bad, false), ok, Continue, 80, ""},
		{"critical failure", v2(Score{Pass: 80, Marginal: 50}), results(ok, ok, ok, ok), customResult("burn", bad, true), bad, RollBack, 80, "critical burn failed: burn says Failed"},
		{"critical undecided blocks a pass", v2(Score{Pass: 80, Marginal: 50}), results(ok, ok, ok, ok), customResult("burn", unk, true), unk, Continue, 80, ""},
		{"critical errored blocks a pass", v2(Score{Pass: 80, Marginal: 50}), results(ok, ok, ok, ok), customResult("burn", rollout.Error, true), unk, Continue, 80, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := aggregate(tc.cfg, 25, tc.rules, rollout.JudgeState{Weight: 25})
			got := WithCustom(tc.cfg, d, []rollout.RuleResult{tc.custom})
			assert.Equal(t, tc.want, got.Verdict)
			assert.Equal(t, tc.action, got.Action)
			assert.InDelta(t, tc.score, got.Score, 1e-9)
			assert.Contains(t, got.Cause, tc.inReason)
			require.Len(t, got.Rules, 5)
			assert.Equal(t, "burn", got.Rules[4].Rule)
			assert.Len(t, d.Rules, 4, "the decision passed in is not changed")
		})
	}
}

// A metric's maxFailures tolerates that many failed looks, counted across
// looks in the judge's state like a rule's; a failed query neither counts
// nor ends a run of undecided looks.
func TestWithCustomCountsAMetricTowardItsOwnLimit(t *testing.T) {
	cfg := ConfigFor(specWith(false, 2, "burn"))
	var st rollout.JudgeState
	step := func(v rollout.Verdict) Decision {
		st.Weight = 10 // as Look's state names its weight
		d := WithCustom(cfg, aggregate(cfg, 10, results(ok, ok, ok, ok), st), []rollout.RuleResult{customResult("burn", v, false)})
		st = d.State
		return d
	}
	for look := 1; look <= 2; look++ {
		d := step(bad)
		assert.Equal(t, unk, d.Verdict, "look %d: within burn's limit of 2", look)
		assert.Equal(t, Continue, d.Action)
	}
	assert.Equal(t, 2, st.Tally.Rules["burn"].Failures)
	step(rollout.Error)
	assert.Equal(t, 2, st.Tally.Rules["burn"].Failures, "an errored look is not a failure")
	d := step(bad)
	assert.Equal(t, bad, d.Verdict, "the third failed look is over the limit")
	assert.Equal(t, RollBack, d.Action)

	// Undecided runs: an Error in between neither counts nor resets.
	cfg.Limits.Rules["burn"] = RuleLimit{MaxFailures: 0, MaxInconclusive: 1}
	st = rollout.JudgeState{}
	step(unk)
	step(rollout.Error)
	assert.Equal(t, 1, st.Tally.Rules["burn"].Inconclusive)
	d = step(unk)
	assert.Equal(t, Undecided, d.Action)
	assert.Equal(t, "10% canary weight undecided: burn undecided 2 looks in a row (limit 1)", d.Cause)
}

func TestWithCustomInRevision1IsAnyFailedElseAnyUndecided(t *testing.T) {
	cfg := reference()
	d := Look(cfg, rollout.JudgeState{}, 10, rollout.Counts{Canary: version(1e6, 1e4, 0), Stable: version(1e6, 1e4, 0)})
	require.Equal(t, ok, d.Verdict)
	assert.Equal(t, ok, WithCustom(cfg, d, []rollout.RuleResult{customResult("burn", ok, false)}).Verdict)
	assert.Equal(t, unk, WithCustom(cfg, d, []rollout.RuleResult{customResult("burn", rollout.Error, false)}).Verdict)
	got := WithCustom(cfg, d, []rollout.RuleResult{customResult("burn", bad, false)})
	assert.Equal(t, bad, got.Verdict)
	assert.Equal(t, Continue, got.Action, "revision 1 leaves the limits to the workflow")
	assert.InDelta(t, 80, got.Score, 1e-9)
}

// Every rule result carries the counts its estimate rests on, and survives
// JSON (the status query) with missing figures as null.
func TestRuleResultsCarryTheirCounts(t *testing.T) {
	d := Look(revision2(), rollout.JudgeState{}, 10, rollout.Counts{Canary: version(60, 4, 0.1), Stable: version(300, 5, 0)})
	want := map[string][2]string{
		RuleErrorRate:     {"4/60", ""},
		RuleErrorIncrease: {"4/60", "5/300"},
		RuleP95:           {"6/60", ""},
	}
	for _, r := range d.Rules {
		w, ok := want[r.Rule]
		if !ok {
			continue
		}
		require.NotNil(t, r.Canary, r.Rule)
		assert.Equal(t, w[0], r.Canary.String(), r.Rule)
		if w[1] == "" {
			assert.Nil(t, r.Stable, r.Rule)
		} else {
			require.NotNil(t, r.Stable, r.Rule)
			assert.Equal(t, w[1], r.Stable.String(), r.Rule)
		}
		assert.False(t, r.P.Missing(), r.Rule)
		assert.False(t, r.Hi.Missing(), r.Rule)
	}
	// p95-ratio: too few stable requests for a baseline; stable's total is
	// kept, its slow count is missing and travels as null.
	ratio := ruleOf(d.Rules, RuleLatencyRatio)
	require.NotNil(t, ratio.Stable)
	assert.Equal(t, "–/300", ratio.Stable.String())
	data, err := json.Marshal(d.Rules)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"stable":{"events":null,"total":300}`)

	// With a baseline, stable's count is its requests above its own p95.
	d = Look(revision2(), rollout.JudgeState{}, 10, rollout.Counts{Canary: version(1000, 4, 0.1), Stable: version(5000, 5, 0.1)})
	ratio = ruleOf(d.Rules, RuleLatencyRatio)
	require.NotNil(t, ratio.Stable)
	require.NotNil(t, ratio.Canary)
	assert.InDelta(t, 5000, float64(ratio.Stable.Total), 1e-9)
	assert.InDelta(t, 1000, float64(ratio.Canary.Total), 1e-9)
}
