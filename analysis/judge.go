// Package analysis is canaryflow's judge: it decides, from counts of
// requests, errors and latency buckets, whether a canary breaks one of the
// rollback rules, is confidently within all of them, or cannot be told yet.
// It is pure (no Temporal, no I/O) so that every decision can be replayed,
// tested at its thresholds and benchmarked with simulated traffic.
//
// Each rule is judged two ways. To roll back, the evidence must be strong
// at any look: an always-valid p-value (a normal-mixture sequential test)
// whose running minimum stays below alpha with probability at most alpha
// when the canary is in fact within the rule, however often it is looked
// at. To pass, the rule's one-sided upper confidence bound must be within
// the threshold. Anything between is Inconclusive — too little traffic is
// never a pass and never a rollback.
package analysis

import (
	"fmt"
	"math"

	"github.com/canaryflow/canaryflow/analysis/stats"
	"github.com/canaryflow/canaryflow/rollout"
)

// Rule names, as they appear in status and reports.
const (
	RuleErrorRate     = "error-rate"
	RuleErrorIncrease = "error-increase"
	RuleP95           = "p95"
	RuleLatencyRatio  = "p95-ratio"
)

// slowShare is the share of requests above a latency that makes that
// latency the p95: "p95 > L" is "more than 5 % of requests take longer than L".
const slowShare = 0.05

// Config is what the judge takes from the spec.
type Config struct {
	Thresholds rollout.Thresholds
	// Alpha is the false-rollback rate allowed over a whole rollout; it is
	// split evenly over the rules and the weights the plan measures at.
	Alpha float64
	// Weights is how many distinct canary weights the plan measures at.
	Weights int
	// PassConfidence is the one-sided confidence a pass needs (0.95).
	PassConfidence float64
	// MinRequests is the fewest canary requests any pass rests on.
	MinRequests float64
}

// DefaultConfig is the judgement of the reference plan: 1 % false
// rollbacks over the rollout, passes at 95 % one-sided confidence.
func DefaultConfig(t rollout.Thresholds, weights int) Config {
	return Config{Thresholds: t, Alpha: 0.01, Weights: max(weights, 1), PassConfidence: 0.95, MinRequests: 30}
}

// alphaPerRule is each rule's share of the rollout's false-rollback rate at one weight.
func (c Config) alphaPerRule(rules int) float64 {
	return c.Alpha / float64(max(c.Weights, 1)*max(rules, 1))
}

// Judge decides one look at weight w from the counts since that weight
// began, and returns the state to carry to the next look.
func Judge(cfg Config, st rollout.JudgeState, w int, c rollout.Counts) (rollout.Verdict, []rollout.RuleResult, rollout.JudgeState) {
	if st.Weight != w || st.MinP == nil {
		// A new weight is a new sequence of looks: its data starts afresh.
		st = rollout.JudgeState{Weight: w, MinP: map[string]float64{}}
	}
	st.Looks++
	rules := cfg.rules(c)
	alpha := cfg.alphaPerRule(len(rules))
	out := make([]rollout.RuleResult, 0, len(rules))
	verdict := rollout.Successful
	for _, r := range rules {
		res := r.judge(cfg, alpha, &st)
		out = append(out, res)
		switch {
		case res.Verdict == rollout.Failed:
			verdict = rollout.Failed
		case res.Verdict == rollout.Inconclusive && verdict == rollout.Successful:
			verdict = rollout.Inconclusive
		}
	}
	if len(out) == 0 {
		verdict = rollout.Inconclusive
	}
	return verdict, out, st
}

// Reasons lists the one-line reasons of the rules that did not pass.
func Reasons(rs []rollout.RuleResult) []string {
	var out []string
	for _, r := range rs {
		if r.Verdict != rollout.Successful {
			out = append(out, r.Reason)
		}
	}
	return out
}

// rule is one rollback rule reduced to "theta > 0 means broken", with an
// estimate of theta and its variance for the sequential test, and the
// upper bound of the judged figure for a pass.
type rule struct {
	name        string
	estimate    float64 // the judged figure (rate, difference, share)
	limit       float64 // the rule's threshold on that figure
	thetaHat, v float64 // smoothed estimate of figure - limit, and its variance
	lo, hi      float64 // confidence bounds of the figure (two-sided at 2×(1-pass))
	enough      bool    // data enough to pass at all
	describe    func(p, alpha float64, verdict rollout.Verdict) string
}

func (r rule) judge(cfg Config, alpha float64, st *rollout.JudgeState) rollout.RuleResult {
	p := 1.0
	if r.v > 0 && !math.IsNaN(r.thetaHat) {
		// Mixing variance on the scale of the threshold: the effects that
		// matter are of the order of the rule's own limit.
		tau := math.Max(r.limit, 0.01)
		p = stats.MixtureSPRT{Tau2: tau * tau}.PValue(r.thetaHat, r.v)
	}
	if prev, ok := st.MinP[r.name]; ok && prev < p {
		p = prev
	}
	st.MinP[r.name] = p
	verdict := rollout.Inconclusive
	switch {
	case p <= alpha:
		verdict = rollout.Failed
	case r.enough && r.hi < r.limit:
		verdict = rollout.Successful
	}
	return rollout.RuleResult{
		Rule: r.name, Estimate: rollout.Value(r.estimate), Lo: rollout.Value(r.lo), Hi: rollout.Value(r.hi),
		Limit: rollout.Value(r.limit), P: rollout.Value(p), Alpha: rollout.Value(alpha), Verdict: verdict,
		Reason: r.describe(p, alpha, verdict),
	}
}

// rules builds the rules the thresholds switch on, from the counts.
func (cfg Config) rules(c rollout.Counts) []rule {
	t := cfg.Thresholds
	conf := 1 - 2*(1-cfg.PassConfidence) // two-sided level whose upper bound is one-sided PassConfidence
	var out []rule
	can, sta := c.Canary, c.Stable
	if t.MaxErrorRate != nil {
		out = append(out, errorRateRule(can, *t.MaxErrorRate, conf, cfg.MinRequests))
	}
	if t.MaxErrorRateIncrease != nil {
		out = append(out, errorIncreaseRule(can, sta, *t.MaxErrorRateIncrease, conf, cfg.MinRequests))
	}
	if t.MaxP95 > 0 {
		out = append(out, slowRule(RuleP95, can, t.MaxP95.D().Seconds(), conf, cfg.MinRequests,
			fmt.Sprintf("p95 ≤ %s", t.MaxP95.D())))
	}
	if t.MaxLatencyRatio > 0 {
		out = append(out, latencyRatioRule(can, sta, t.MaxLatencyRatio, conf, cfg.MinRequests))
	}
	return out
}

func verdictWord(v rollout.Verdict) string { return string(v) }

func pct(v float64) string { return fmt.Sprintf("%.1f %%", 100*v) }

// pClause says how the p-value compares with alpha.
func pClause(p, alpha float64) string {
	if p <= alpha {
		return fmt.Sprintf("p = %.2g ≤ %.2g", p, alpha)
	}
	return fmt.Sprintf("p = %.2g > %.2g", p, alpha)
}
