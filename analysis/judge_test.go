package analysis

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// reference is the reference plan's four rules: error rate ≤ 5 %, canary
// ≤ stable + 3 points, p95 ≤ 2 s, p95 ≤ 1.5 × stable's.
func reference() Config {
	return DefaultConfig(rollout.Spec{}.WithDefaults().Analysis.Thresholds, 3)
}

// latencies are bucket edges like the middleware's, in seconds.
var edges = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.Inf(1)}

// version builds counts with n requests, x errors and a latency histogram
// where a share `slow` of requests took 3 s and the rest 20 ms.
func version(n, x, slow float64) rollout.VersionCounts {
	v := rollout.VersionCounts{Requests: n, Errors: x}
	for _, le := range edges {
		c := 0.0
		if le >= 0.025 {
			c = n * (1 - slow)
		}
		if le >= 5 {
			c = n
		}
		v.Buckets = append(v.Buckets, rollout.Bucket{LE: rollout.Value(le), Count: c})
	}
	return v
}

func look(cfg Config, st rollout.JudgeState, can, sta rollout.VersionCounts) (rollout.Verdict, []rollout.RuleResult, rollout.JudgeState) {
	return Judge(cfg, st, 10, rollout.Counts{Canary: can, Stable: sta, Span: rollout.Duration(time.Minute)})
}

func ruleOf(rs []rollout.RuleResult, name string) rollout.RuleResult {
	for _, r := range rs {
		if r.Rule == name {
			return r
		}
	}
	return rollout.RuleResult{}
}

func TestIdenticalVersionsWithPlentyOfDataPass(t *testing.T) {
	v, rs, _ := look(reference(), rollout.JudgeState{}, version(20000, 200, 0.01), version(180000, 1800, 0.01))
	assert.Equal(t, rollout.Successful, v, "%v", Reasons(rs))
	assert.Len(t, rs, 4)
}

func TestTooLittleDataIsInconclusiveNeverAPassNorARollback(t *testing.T) {
	v, rs, _ := look(reference(), rollout.JudgeState{}, version(12, 0, 0), version(100, 1, 0))
	assert.Equal(t, rollout.Inconclusive, v)
	assert.NotEmpty(t, Reasons(rs))
	v, _, _ = look(reference(), rollout.JudgeState{}, rollout.VersionCounts{}, rollout.VersionCounts{})
	assert.Equal(t, rollout.Inconclusive, v, "no data at all")
}

func TestAClearlyBadCanaryFails(t *testing.T) {
	v, rs, _ := look(reference(), rollout.JudgeState{}, version(200, 40, 0), version(1800, 18, 0))
	require.Equal(t, rollout.Failed, v)
	assert.Equal(t, rollout.Failed, ruleOf(rs, RuleErrorRate).Verdict)
	assert.Equal(t, rollout.Failed, ruleOf(rs, RuleErrorIncrease).Verdict)
	assert.Contains(t, ruleOf(rs, RuleErrorRate).Reason, "canary 40/200 errors (20.0 %")
	assert.Contains(t, ruleOf(rs, RuleErrorRate).Reason, "→ Failed")
}

func TestSlowCanaryFailsBothLatencyRules(t *testing.T) {
	v, rs, _ := look(reference(), rollout.JudgeState{}, version(400, 0, 0.3), version(3600, 0, 0))
	require.Equal(t, rollout.Failed, v)
	assert.Equal(t, rollout.Failed, ruleOf(rs, RuleP95).Verdict)
	assert.Equal(t, rollout.Failed, ruleOf(rs, RuleLatencyRatio).Verdict)
	assert.Contains(t, ruleOf(rs, RuleLatencyRatio).Reason, "Mann-Whitney")
}

// Each rule at, just under and just over its threshold, with so much data
// that the estimate is the truth: at the limit nothing is decided, below
// it passes, above it fails.
func TestEachRuleAtItsThreshold(t *testing.T) {
	const n = 4e6
	cases := []struct {
		name            string
		under, at, over [2]rollout.VersionCounts
	}{
		{RuleErrorRate,
			[2]rollout.VersionCounts{version(n, 0.047*n, 0), version(n, 0.047*n, 0)},
			[2]rollout.VersionCounts{version(n, 0.05*n, 0), version(n, 0.05*n, 0)},
			[2]rollout.VersionCounts{version(n, 0.053*n, 0), version(n, 0.053*n, 0)}},
		{RuleErrorIncrease,
			[2]rollout.VersionCounts{version(n, 0.027*n, 0), version(n, 0, 0)},
			[2]rollout.VersionCounts{version(n, 0.03*n, 0), version(n, 0, 0)},
			[2]rollout.VersionCounts{version(n, 0.033*n, 0), version(n, 0, 0)}},
		{RuleP95,
			[2]rollout.VersionCounts{version(n, 0, 0.047), version(n, 0, 0.047)},
			[2]rollout.VersionCounts{version(n, 0, 0.05), version(n, 0, 0.05)},
			[2]rollout.VersionCounts{version(n, 0, 0.053), version(n, 0, 0.053)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, rs, _ := look(reference(), rollout.JudgeState{}, c.under[0], c.under[1])
			assert.Equal(t, rollout.Successful, ruleOf(rs, c.name).Verdict, "just under: %s", ruleOf(rs, c.name).Reason)
			_, rs, _ = look(reference(), rollout.JudgeState{}, c.at[0], c.at[1])
			assert.Equal(t, rollout.Inconclusive, ruleOf(rs, c.name).Verdict, "at: %s", ruleOf(rs, c.name).Reason)
			_, rs, _ = look(reference(), rollout.JudgeState{}, c.over[0], c.over[1])
			assert.Equal(t, rollout.Failed, ruleOf(rs, c.name).Verdict, "just over: %s", ruleOf(rs, c.name).Reason)
		})
	}
}

func TestTheRunningMinimumIsKeptPerWeight(t *testing.T) {
	cfg := reference()
	_, rs, st := Judge(cfg, rollout.JudgeState{}, 10, rollout.Counts{Canary: version(300, 30, 0), Stable: version(2700, 27, 0)})
	first := float64(ruleOf(rs, RuleErrorRate).P)
	require.Less(t, first, 1.0)
	// A calmer later look at the same weight cannot raise the minimum.
	_, rs, st = Judge(cfg, st, 10, rollout.Counts{Canary: version(600, 30, 0), Stable: version(5400, 54, 0)})
	assert.LessOrEqual(t, float64(ruleOf(rs, RuleErrorRate).P), first)
	assert.Equal(t, 2, st.Looks)
	// A new weight is a new sequence.
	_, _, st = Judge(cfg, st, 25, rollout.Counts{Canary: version(10, 0, 0), Stable: version(90, 0, 0)})
	assert.Equal(t, 25, st.Weight)
	assert.Equal(t, 1, st.Looks)
}

func TestOnlyTheRulesTheThresholdsSwitchOnAreJudged(t *testing.T) {
	cfg := reference()
	cfg.Thresholds.MaxErrorRateIncrease = nil
	cfg.Thresholds.MaxLatencyRatio = 0
	_, rs, _ := look(cfg, rollout.JudgeState{}, version(1000, 1, 0), version(9000, 9, 0))
	assert.Len(t, rs, 2)
}

func TestAStableWithoutABaselineLeavesTheRatioUndecided(t *testing.T) {
	_, rs, _ := look(reference(), rollout.JudgeState{}, version(20000, 0, 0), version(5, 0, 0))
	assert.Equal(t, rollout.Inconclusive, ruleOf(rs, RuleLatencyRatio).Verdict)
	assert.Contains(t, ruleOf(rs, RuleLatencyRatio).Reason, "stable has too few requests")
}
