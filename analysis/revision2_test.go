package analysis

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

func revision2() Config { return ConfigFor(rollout.Spec{}.WithDefaults()) }

// hist is a histogram on the middleware's kind of edges with shares of n
// in (0.05, 0.1], (0.1, 0.15] and above 10 s; the rest is at or below 50 ms.
func hist(n, x, in100, in150, over10 float64) rollout.VersionCounts {
	v := rollout.VersionCounts{Requests: n, Errors: x}
	for _, le := range []float64{0.05, 0.1, 0.15, 2, 10, math.Inf(1)} {
		var c float64
		switch {
		case le < 0.1:
			c = n * (1 - in100 - in150 - over10)
		case le < 0.15:
			c = n * (1 - in150 - over10)
		case le < math.Inf(1):
			c = n * (1 - over10)
		default:
			c = n
		}
		v.Buckets = append(v.Buckets, rollout.Bucket{LE: rollout.Value(le), Count: c})
	}
	return v
}

func look2(can, sta rollout.VersionCounts) []rollout.RuleResult {
	d := Look(revision2(), rollout.JudgeState{}, 10, rollout.Counts{Canary: can, Stable: sta, Span: rollout.Duration(time.Minute)})
	return d.Rules
}

// Revision2 at, just under and just over each rule's rollback threshold,
// with so much data that the estimate is the truth. The absolute rules roll
// back above their limit; the relative ones above their tolerance (half-way:
// +1.5 points, × 1.25), which is what lets them catch a canary at the limit.
func TestRevision2EachRuleAtItsRollbackThreshold(t *testing.T) {
	const n = 4e6
	type pair [2]rollout.VersionCounts
	cases := []struct {
		name            string
		under, at, over pair
		atVerdict       rollout.Verdict
	}{
		{RuleErrorRate,
			pair{hist(n, 0.047*n, 0, 0, 0), hist(n, 0.047*n, 0, 0, 0)},
			pair{hist(n, 0.05*n, 0, 0, 0), hist(n, 0.05*n, 0, 0, 0)},
			pair{hist(n, 0.053*n, 0, 0, 0), hist(n, 0.053*n, 0, 0, 0)}, unk},
		{RuleErrorIncrease,
			pair{hist(n, 0.024*n, 0, 0, 0), hist(n, 0.01*n, 0, 0, 0)},
			pair{hist(n, 0.025*n, 0, 0, 0), hist(n, 0.01*n, 0, 0, 0)},
			pair{hist(n, 0.026*n, 0, 0, 0), hist(n, 0.01*n, 0, 0, 0)}, ok},
		{RuleP95,
			pair{hist(n, 0, 0, 0, 0.047), hist(n, 0, 0, 0, 0.047)},
			pair{hist(n, 0, 0, 0, 0.05), hist(n, 0, 0, 0, 0.05)},
			pair{hist(n, 0, 0, 0, 0.053), hist(n, 0, 0, 0, 0.053)}, unk},
		// Stable's p95 is 0.1 s (half in (0.05, 0.1], 5 % in (0.1, 0.15]);
		// 1.25 × it is 0.125 s, the middle of that bucket, above which a
		// canary with share s in it has s/2 of its requests: 4.5 %, 5 %, 5.5 %.
		{RuleLatencyRatio,
			pair{hist(n, 0, 0, 0.09, 0), hist(n, 0, 0.5, 0.05, 0)},
			pair{hist(n, 0, 0, 0.10, 0), hist(n, 0, 0.5, 0.05, 0)},
			pair{hist(n, 0, 0, 0.11, 0), hist(n, 0, 0.5, 0.05, 0)}, ok},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ruleOf(look2(c.under[0], c.under[1]), c.name)
			assert.Equal(t, ok, r.Verdict, "just under: %s", r.Reason)
			r = ruleOf(look2(c.at[0], c.at[1]), c.name)
			assert.Equal(t, c.atVerdict, r.Verdict, "at: %s", r.Reason)
			r = ruleOf(look2(c.over[0], c.over[1]), c.name)
			assert.Equal(t, bad, r.Verdict, "just over: %s", r.Reason)
		})
	}
}

// Every rule's verdict follows its figures: Failed exactly when the
// p-value is within alpha, Successful exactly when it is not and the upper
// bound is within the limit on enough data; over a grid of counts that
// crosses every bound.
func TestRevision2VerdictsFollowTheBounds(t *testing.T) {
	cfg := revision2()
	for _, n := range []float64{0, 10, 30, 100, 1000, 20000} {
		for _, rate := range []float64{0, 0.01, 0.03, 0.045, 0.06, 0.2} {
			for _, slow := range []float64{0, 0.03, 0.08} {
				name := fmt.Sprintf("n=%g errors=%g slow=%g", n, rate, slow)
				d := Look(cfg, rollout.JudgeState{}, 10, rollout.Counts{Canary: hist(n, rate*n, 0, slow, slow/4), Stable: hist(9*n, 0.01*9*n, 0, 0.04, 0.01)})
				require.Len(t, d.Rules, 4, name)
				for _, r := range d.Rules {
					failed := r.P <= r.Alpha
					assert.Equal(t, failed, r.Verdict == bad, "%s %s: %s", name, r.Rule, r.Reason)
					if r.Verdict == ok {
						assert.Less(t, float64(r.Hi), float64(r.Limit), "%s %s", name, r.Rule)
						assert.GreaterOrEqual(t, n, 30.0, "%s %s: a pass needs 30 canary requests", name, r.Rule)
					}
					assert.InDelta(t, cfg.Alpha/4, float64(r.Alpha), 1e-12, "alpha is split over the rules only")
				}
				if n == 0 {
					assert.Equal(t, unk, d.Verdict, "no data is undecided")
				}
			}
		}
	}
}

func TestRevision2IsOneTestAcrossTheWeights(t *testing.T) {
	cfg := revision2()
	counts := func(n, x float64) rollout.Counts {
		return rollout.Counts{Canary: hist(n, x, 0, 0, 0), Stable: hist(9*n, 0.09*n, 0, 0, 0), Span: rollout.Duration(time.Minute)}
	}
	d := Look(cfg, rollout.JudgeState{}, 10, counts(200, 8))
	first := float64(ruleOf(d.Rules, RuleErrorIncrease).P)
	require.Less(t, first, 1.0)
	d = Look(cfg, d.State, 10, counts(400, 16))
	assert.Equal(t, 2, d.State.Looks)
	assert.Equal(t, 400.0, d.State.Latest.Canary.Requests, "Latest is the weight's counts at its last look")
	assert.Nil(t, d.State.Earlier)
	// At the next weight the last look's counts join the pool, and the
	// running minimum p-value carries on: a calm first look cannot raise it.
	atTen := float64(ruleOf(d.Rules, RuleErrorIncrease).P)
	d = Look(cfg, d.State, 25, counts(10, 0))
	require.NotNil(t, d.State.Earlier)
	assert.Equal(t, 400.0, d.State.Earlier.Canary.Requests)
	assert.Equal(t, 25, d.State.Weight)
	assert.Equal(t, 1, d.State.Looks)
	assert.LessOrEqual(t, float64(ruleOf(d.Rules, RuleErrorIncrease).P), atTen)
	assert.Contains(t, ruleOf(d.Rules, RuleErrorIncrease).Reason, "canary 16/410 errors", "the rule judges the pooled counts")
	// And again at 50 %: Earlier accumulates.
	d = Look(cfg, d.State, 25, counts(20, 0))
	d = Look(cfg, d.State, 50, counts(5, 0))
	assert.Equal(t, 420.0, d.State.Earlier.Canary.Requests)
	assert.Equal(t, 2*time.Minute, d.State.Earlier.Span.D())
}

func TestRevision2StatesAreNotSharedBetweenLooks(t *testing.T) {
	cfg := revision2()
	c := rollout.Counts{Canary: hist(100, 1, 0, 0, 0), Stable: hist(900, 9, 0, 0, 0)}
	first := Look(cfg, rollout.JudgeState{}, 10, c)
	before, tally := first.State.MinP[RuleErrorRate], first.State.Tally.Rules[RuleErrorRate]
	second := Look(cfg, first.State, 25, rollout.Counts{Canary: hist(100, 60, 0, 0, 0), Stable: hist(900, 9, 0, 0, 0)})
	require.Equal(t, bad, ruleOf(second.Rules, RuleErrorRate).Verdict)
	assert.Equal(t, before, first.State.MinP[RuleErrorRate], "a later look does not change an earlier state")
	assert.Equal(t, tally, first.State.Tally.Rules[RuleErrorRate])
	assert.Less(t, second.State.MinP[RuleErrorRate], before)
	assert.Equal(t, 1, second.State.Tally.Rules[RuleErrorRate].Failures)
}

func TestHistogramsWithDifferentBoundsAreMergedOnTheirBounds(t *testing.T) {
	b := func(le, c float64) rollout.Bucket { return rollout.Bucket{LE: rollout.Value(le), Count: c} }
	inf := math.Inf(1)
	a := rollout.VersionCounts{Requests: 10, Errors: 1, Buckets: []rollout.Bucket{b(0.1, 4), b(1, 9), b(inf, 10)}}
	c := rollout.VersionCounts{Requests: 5, Buckets: []rollout.Bucket{b(0.1, 1), b(0.5, 3), b(inf, 5)}}
	got := addVersion(a, c)
	assert.Equal(t, 15.0, got.Requests)
	assert.Equal(t, 1.0, got.Errors)
	// 0.5 is missing from a: its count there is that of 0.1 (4); 1 is
	// missing from c: its count there is that of 0.5 (3).
	assert.Equal(t, []rollout.Bucket{b(0.1, 5), b(0.5, 7), b(1, 12), b(inf, 15)}, got.Buckets)
	assert.Equal(t, a, addVersion(a, rollout.VersionCounts{}), "a version with no series adds nothing")
	assert.Equal(t, a.Buckets, addVersion(rollout.VersionCounts{}, a).Buckets)
}
