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
// alpha goes to the recent looks, split evenly over the tests (one per
// rule, two for the latency ratio, whose stable p95 bound is taken at the
// same alpha as the canary's share) and spent over the looks: 90 % evenly
// over the looks the plan can take (RecentLooks), the other 10 % over any
// look past them as 6/(π²j²) for the j-th, so a long approval wait never
// turns the recent look off, it only makes it stricter. Windows overlap,
// so this is conservative; it is also simple enough to check by hand. A
// window with fewer canary requests than MinRequests is not judged (a few
// retries of one bad request are not a fault) and spends nothing. The
// recent look never passes a rule: a pass rests on all the data.

// recentShare is the share of alpha the recent looks spend; plannedShare
// the part of that spent over the plan's looks.
const (
	recentShare  = 0.5
	plannedShare = 0.9
)

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
// the final look. The recent look's alpha is split over these. It decides
// verdicts inside the workflow: a change to it goes behind a new judge
// revision, or running rollouts would judge differently on replay.
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

// recentAlpha is the k-th recent look's (1-based) alpha for one of its
// tests: the plan's looks share plannedShare of the recent half evenly,
// later ones the rest as 6/(π²j²), which sums to 1 over j.
func (c Config) recentAlpha(tests, k int) float64 {
	each := recentShare * c.Alpha / float64(max(tests, 1))
	planned := max(c.RecentLooks, 1)
	if k <= planned {
		return plannedShare * each / float64(planned)
	}
	j := float64(k - planned)
	return (1 - plannedShare) * each * 6 / (math.Pi * math.Pi * j * j)
}

// recentOn reports whether this look has a recent test: Revision3, and
// window counts with enough canary requests to judge.
func (c Config) recentOn(win *rollout.Counts) bool {
	return c.revision() >= Revision3 && c.RecentLooks > 0 && win != nil && win.Canary.Requests >= c.MinRequests
}

// recentTests is how many tests a recent look makes over rules: one each,
// and two for the latency ratio (stable's p95 bound and the canary's share).
func recentTests(rules []rollout.RuleResult) int {
	n := len(rules)
	for _, r := range rules {
		if r.Rule == RuleLatencyRatio {
			n++
		}
	}
	return n
}

// judgeRecent fails, in out, each rule whose window alone is confidently
// past its null at this look's share of alpha, and counts the look.
func judgeRecent(cfg Config, st *rollout.JudgeState, out []rollout.RuleResult, win rollout.Counts) {
	st.RecentLooks++
	alpha := cfg.recentAlpha(recentTests(out), st.RecentLooks)
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
	return fmt.Sprintf("%s over the last %s alone: %s, %s; its lower bound %s > %s (one-sided, alpha %.2g for this look, look %d, %d planned) → Failed",
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
