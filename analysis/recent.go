package analysis

import (
	"fmt"
	"math"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// The recent look (Revision3) is a second, fast-failing test beside the
// pooled sequential one. Pooling every count since a weight began is what
// makes the sequential test quiet, but it also dilutes a fault that starts
// in the middle of a hold: minutes of healthy counts hide seconds of
// errors. So each look also judges the last analysis window alone, and a
// rule fails at once when the window's own lower confidence bound is past
// the rule's null.
//
// Its false-rollback rate is held by a union bound: half the rollout's
// alpha goes to the recent looks, split evenly over the rules and over the
// looks the plan can take (RecentLooks). Windows overlap, so this is
// conservative; it is also simple enough to check by hand. Once the plan's
// looks are spent the recent look is off and only the pooled test judges.
// The recent look never passes a rule: a pass rests on all the data.

// recentShare is the share of alpha the recent looks spend.
const recentShare = 0.5

// Planning allowances for looks the plan cannot count exactly.
const (
	// approvalLooks is the allowance for an approval wait with no timeout.
	approvalLooks = 60
	// gateRetries: an analysis gate may restart its run of successes.
	gateRetries = 4
	// finalLooks covers the look before promotion and its few retries.
	finalLooks = 5
	// minRecentLooks keeps a tiny plan's budget from being spent at once.
	minRecentLooks = 10
)

// PlannedLooks is how many looks a defaulted spec's plan can take: every
// hold at a non-zero weight with its longest extension, approval waits at
// their timeout (approvalLooks when unbounded), gates with retries, and
// the final look. The recent look's alpha is split over these.
func PlannedLooks(s rollout.Spec) int {
	every := s.Analysis.Interval.D()
	if every <= 0 {
		return minRecentLooks
	}
	n, weight := finalLooks, 0
	for _, st := range s.Steps {
		switch {
		case st.SetWeight != nil:
			weight = *st.SetWeight
		case weight == 0:
		case st.Pause != nil && st.Pause.Duration > 0:
			d := st.Pause.Duration.D()
			n += looksIn(d+s.Analysis.Extension(d), every)
		case st.Pause != nil && st.Pause.Timeout > 0:
			n += looksIn(st.Pause.Timeout.D(), every)
		case st.Pause != nil:
			n += approvalLooks
		case st.Analysis != nil:
			n += gateRetries * max(st.Analysis.Measurements, 1)
		}
	}
	return max(n, minRecentLooks)
}

func looksIn(d, every time.Duration) int {
	return int(math.Ceil(float64(d) / float64(every)))
}

// recentAlpha is one recent look's share of alpha for one of n rules.
func (c Config) recentAlpha(rules int) float64 {
	return recentShare * c.Alpha / float64(max(rules, 1)*max(c.RecentLooks, 1))
}

// recentOn reports whether this look has a recent test: Revision3, window
// counts given, and the plan's looks not yet spent.
func (c Config) recentOn(st rollout.JudgeState, win *rollout.Counts) bool {
	return c.revision() >= Revision3 && win != nil && c.RecentLooks > 0 && st.RecentLooks < c.RecentLooks
}

// judgeRecent fails, in out, each rule whose window alone is confidently
// past its null at this look's share of alpha, and counts the look.
func judgeRecent(cfg Config, st *rollout.JudgeState, out []rollout.RuleResult, win rollout.Counts) {
	st.RecentLooks++
	alpha := cfg.recentAlpha(len(out))
	one := cfg
	one.PassConfidence = 1 - alpha // the lower bound is one-sided 1-alpha
	one.exact = true
	for i, r := range one.rules(win) {
		if i >= len(out) || out[i].Rule != r.name || out[i].Verdict == rollout.Failed {
			continue
		}
		if math.IsNaN(r.lo) || !(r.lo > r.null) {
			continue
		}
		out[i] = rollout.RuleResult{
			Rule: r.name, Estimate: rollout.Value(r.estimate), Lo: rollout.Value(r.lo), Hi: rollout.Value(r.hi),
			Limit: rollout.Value(r.limit), P: rollout.Value(math.NaN()), Alpha: rollout.Value(alpha),
			Verdict: rollout.Failed, Canary: r.can, Stable: r.sta, Window: win.Span,
			Reason: recentReason(r, win.Span.D(), alpha, st.RecentLooks, cfg.RecentLooks),
		}
	}
}

// recentReason is the one line a person reads for a recent-look failure.
func recentReason(r rule, span time.Duration, alpha float64, look, of int) string {
	counts := "canary " + observedString(r.can)
	if r.sta != nil && r.name == RuleErrorIncrease {
		counts += " vs stable " + observedString(r.sta)
	}
	return fmt.Sprintf("%s over the last %s alone: %s, %s; its lower bound %s > %s (one-sided, alpha %.2g for this look, %d of %d) → Failed",
		r.name, span, counts, what(r), pct(r.lo), pct(r.null), alpha, look, of)
}

func observedString(o *rollout.Observed) string {
	if o == nil {
		return "–"
	}
	s := o.String()
	if t := float64(o.Total); t > 0 {
		s += " (" + pct(float64(o.Events)/t) + ")"
	}
	return s
}

// what names the figure a rule judges.
func what(r rule) string {
	switch r.name {
	case RuleErrorRate:
		return "error rate " + pctOrNone(r.estimate)
	case RuleErrorIncrease:
		return "difference " + pctOrNone(r.estimate)
	default:
		return "share of slow requests " + pctOrNone(r.estimate)
	}
}
