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
	RuleErrorRate     = rollout.RuleErrorRate
	RuleErrorIncrease = rollout.RuleErrorIncrease
	RuleP95           = rollout.RuleP95
	RuleLatencyRatio  = rollout.RuleLatencyRatio
)

// slowShare is the share of requests above a latency that makes that
// latency the p95: "p95 > L" is "more than 5 % of requests take longer than L".
const slowShare = 0.05

// Judge revisions. A rollout keeps the revision it started with (the
// workflow picks it behind a GetVersion), so a history replays with the
// decisions it was written with.
const (
	// Revision1 tests each rule afresh at every weight with alpha split
	// over rules and weights, and puts every rule's null exactly at its
	// limit: a canary at +3 points or × 1.5 can only pause, never roll back.
	Revision1 = 1
	// Revision2 runs one sequential test per rule across the whole rollout
	// (counts pooled over the weights, alpha split over rules only), puts
	// the relative rules' null a Tolerance short of their limit so that a
	// canary at the limit is caught, sizes each test's mixing variance for
	// the smallest excess worth catching, and adds the score, critical rules
	// and per-rule limits.
	Revision2 = 2
	// Revision3 is Revision2 with the recent look (see recent.go): each
	// look also judges the last window alone, so a fault that starts in
	// the middle of a hold is not diluted by the healthy counts before it.
	// The pooled tests keep half of alpha, the recent looks the other half.
	Revision3 = 3
)

// DefaultTolerance protects canaries up to half-way to a relative rule's
// limit: +1.5 points for "stable + 3 points", × 1.25 for "1.5 × stable".
const DefaultTolerance = 0.5

// Config is what the judge takes from the spec.
type Config struct {
	Thresholds rollout.Thresholds
	// Alpha is the false-rollback rate allowed over a whole rollout; it is
	// split evenly over the rules (and in Revision1 over the weights too).
	Alpha float64
	// Weights is how many distinct canary weights the plan measures at.
	Weights int
	// PassConfidence is the one-sided confidence a pass needs (0.95).
	PassConfidence float64
	// MinRequests is the fewest canary requests any pass rests on.
	MinRequests float64

	// Revision selects the judgement (Revision1 when 0).
	Revision int
	// Tolerance (Revision2) is how far toward its limit, from "no worse than
	// stable" (0) to the limit itself (1), a relative rule's canary may be
	// and still be protected from false rollbacks at Alpha:
	// a rule cannot both hold false rollbacks at its limit and catch a
	// canary exactly at it, so the test's null sits at limit × Tolerance
	// for the error increase and at 1 + (ratio-1) × Tolerance for the
	// latency ratio. Between that and the limit (the indifference zone)
	// a rollback becomes likelier as traffic grows; at the limit and
	// beyond it is the point. Absolute rules (error rate, p95) keep their
	// null at the limit: they roll back when confidently above it.
	Tolerance float64
	// Score, Critical and Limits (Revision2) weigh the rules' verdicts
	// into the measurement's and count them toward rollback.
	Score    Score
	Critical []string
	Limits   Limits
	// RecentLooks (Revision3) is how many looks the recent test's half of
	// alpha is split over (PlannedLooks of the spec).
	RecentLooks int

	// exact asks for Clopper-Pearson bounds instead of Wilson's (the
	// recent look: tiny counts at extreme confidence).
	exact bool
}

// interval is the single-proportion interval the rules are built on.
func (c Config) interval() stats.Interval {
	if c.exact {
		return stats.ClopperPearson
	}
	return stats.Wilson
}

// DefaultConfig is the Revision1 judgement of the reference plan: 1 % false
// rollbacks over the rollout, passes at 95 % one-sided confidence. Kept
// unchanged for rollouts that started with it.
func DefaultConfig(t rollout.Thresholds, weights int) Config {
	return Config{Thresholds: t, Alpha: 0.01, Weights: max(weights, 1), PassConfidence: 0.95, MinRequests: 30, Revision: Revision1}
}

// ConfigFor is the Revision2 judgement a defaulted spec asks for: its
// thresholds, false-rollback rate, score, critical rules and limits.
// Revision3Of adds the recent look to it.
func ConfigFor(s rollout.Spec) Config {
	a := s.Analysis
	c := DefaultConfig(a.Thresholds, s.MeasuredWeights())
	c.Revision = Revision2
	c.Tolerance = DefaultTolerance
	if a.Judging.FalseRollbackRate > 0 {
		c.Alpha = a.Judging.FalseRollbackRate
	}
	c.Score = DefaultScore
	if p := a.Judging.Score.Pass; p != nil {
		c.Score.Pass = *p
	}
	if m := a.Judging.Score.Marginal; m != nil {
		c.Score.Marginal = *m
	}
	c.Critical = append([]string(nil), a.Judging.Critical...)
	for _, m := range a.Metrics {
		if m.Critical {
			c.Critical = append(c.Critical, m.Name)
		}
	}
	c.Limits = LimitsOf(a)
	return c
}

// Revision3Of is the judgement a sequential rollout starts with today:
// ConfigFor's with the recent look over the plan's looks.
func Revision3Of(s rollout.Spec) Config {
	c := ConfigFor(s)
	c.Revision = Revision3
	c.RecentLooks = PlannedLooks(s)
	return c
}

func (c Config) revision() int { return max(c.Revision, Revision1) }

// alphaPerRule is each rule's share of the rollout's false-rollback rate
// (at one weight in Revision1).
func (c Config) alphaPerRule(rules int) float64 {
	if c.revision() >= Revision3 {
		return (1 - recentShare) * c.Alpha / float64(max(rules, 1))
	}
	if c.revision() >= Revision2 {
		return c.Alpha / float64(max(rules, 1))
	}
	return c.Alpha / float64(max(c.Weights, 1)*max(rules, 1))
}

// Judge decides one look at weight w from the counts since that weight
// began, and returns the state to carry to the next look. It is the
// verdict of Look; Look also says what the limits make of it.
func Judge(cfg Config, st rollout.JudgeState, w int, c rollout.Counts) (rollout.Verdict, []rollout.RuleResult, rollout.JudgeState) {
	d := Look(cfg, st, w, c)
	return d.Verdict, d.Rules, d.State
}

// judgeRules runs every rule on the look's counts (pooled with the earlier
// weights' in Revision2) and keeps each rule's running minimum p-value;
// in Revision3 the last window (win, when given) may fail a rule on its own.
func judgeRules(cfg Config, st rollout.JudgeState, w int, c rollout.Counts, win *rollout.Counts) ([]rollout.RuleResult, rollout.JudgeState) {
	if cfg.revision() >= Revision2 {
		st = carry(st, w, c)
		if st.Earlier != nil {
			c = addCounts(*st.Earlier, c)
		}
	} else if st.Weight != w || st.MinP == nil {
		// A new weight is a new sequence of looks: its data starts afresh.
		st = rollout.JudgeState{Weight: w, MinP: map[string]float64{}}
	}
	st.Looks++
	if cfg.revision() >= Revision3 {
		st.Revision = cfg.revision()
	}
	rules := cfg.rules(c)
	alpha := cfg.alphaPerRule(len(rules))
	out := make([]rollout.RuleResult, 0, len(rules))
	for _, r := range rules {
		out = append(out, r.judge(alpha, &st))
	}
	if cfg.recentOn(win) {
		judgeRecent(cfg, &st, out, *win)
	}
	return out, st
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

// rule is one rollback rule reduced to "the figure above null means
// broken", with a smoothed figure and its variance for the sequential test,
// and the upper bound of the judged figure for a pass.
type rule struct {
	name     string
	estimate float64 // the judged figure (rate, difference, share)
	limit    float64 // the rule's threshold on that figure, for a pass
	null     float64 // the largest figure the rollback test protects
	tau      float64 // the mixing standard deviation: the excess worth catching
	fig, v   float64 // smoothed figure and its variance
	lo, hi   float64 // confidence bounds of the figure (two-sided at 2×(1-pass))
	enough   bool    // data enough to pass at all
	// can, sta are the counts the estimate rests on (nil: none of that version).
	can, sta *rollout.Observed
	describe func(p, alpha float64, verdict rollout.Verdict) string
}

func (r rule) judge(alpha float64, st *rollout.JudgeState) rollout.RuleResult {
	p := 1.0
	if r.v > 0 && !math.IsNaN(r.fig) {
		p = stats.MixtureSPRT{Tau2: r.tau * r.tau}.PValue(r.fig-r.null, r.v)
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
		Reason: r.describe(p, alpha, verdict), Canary: r.can, Stable: r.sta,
	}
}

// rules builds the rules the thresholds switch on, from the counts.
func (cfg Config) rules(c rollout.Counts) []rule {
	t := cfg.Thresholds
	conf := 1 - 2*(1-cfg.PassConfidence) // two-sided level whose upper bound is one-sided PassConfidence
	v2 := cfg.revision() >= Revision2
	tol := 1.0 // Revision1: every null at its limit
	if v2 {
		tol = cfg.Tolerance
	}
	var out []rule
	can, sta := c.Canary, c.Stable
	iv := cfg.interval()
	if t.MaxErrorRate != nil {
		r := errorRateRule(iv, can, *t.MaxErrorRate, conf, cfg.MinRequests)
		out = append(out, r.sized(v2, r.limit/2))
	}
	if t.MaxErrorRateIncrease != nil {
		r := errorIncreaseRule(iv, can, sta, *t.MaxErrorRateIncrease, tol, conf, cfg.MinRequests)
		out = append(out, r.sized(v2, r.limit-r.null))
	}
	if t.MaxP95 > 0 {
		r := slowRule(iv, RuleP95, can, t.MaxP95.D().Seconds(), conf, cfg.MinRequests, fmt.Sprintf("p95 ≤ %s", t.MaxP95.D()))
		out = append(out, r.sized(v2, slowShare))
	}
	if t.MaxLatencyRatio > 0 {
		r := latencyRatioRule(iv, can, sta, t.MaxLatencyRatio, tol, conf, cfg.MinRequests)
		out = append(out, r.sized(v2, slowShare))
	}
	return out
}

// sized sets the mixing standard deviation. Revision2 uses the excess
// worth catching (the distance from the null to the limit, or for
// absolute rules as far again above it), where the mixture test is most
// sensitive; Revision1 used the limit itself, floored at one point.
func (r rule) sized(v2 bool, excess float64) rule {
	r.tau = math.Max(r.limit, 0.01)
	if v2 {
		r.tau = math.Max(excess, 0.005)
	}
	return r
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
