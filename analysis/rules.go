package analysis

import (
	"fmt"
	"math"

	"github.com/canaryflow/canaryflow/analysis/stats"
	"github.com/canaryflow/canaryflow/rollout"
)

// agresti smooths a proportion for the sequential test's variance: with
// few requests and no error yet, p̂ = 0 would claim no uncertainty at all.
func agresti(x, n float64) (p, nn float64) {
	nn = n + 2
	return (x + 1) / nn, nn
}

// errorRateRule: the canary's error rate above the absolute limit.
func errorRateRule(iv stats.Interval, can rollout.VersionCounts, limit, conf, minN float64) rule {
	n, x := can.Requests, can.Errors
	lo, hi := iv(x, n, conf)
	ps, nn := agresti(x, n)
	est := math.NaN()
	if n > 0 {
		est = x / n
	}
	return rule{
		name: RuleErrorRate, estimate: est, limit: limit, null: limit,
		fig: ps, v: ps * (1 - ps) / nn, lo: lo, hi: hi, enough: n >= minN,
		can: observed(x, n),
		describe: func(p, alpha float64, v rollout.Verdict) string {
			return fmt.Sprintf("canary %.0f/%.0f errors (%s, %.0f %% CI %s–%s) vs limit %s: %s → %s",
				x, n, pctOrNone(est), 100*conf, pct(lo), pct(hi), pct(limit), pClause(p, alpha), verdictWord(v))
		},
	}
}

// errorIncreaseRule: the canary's error rate above stable's plus a margin;
// the rollback test protects differences up to margin × tol.
func errorIncreaseRule(iv stats.Interval, can, sta rollout.VersionCounts, margin, tol, conf, minN float64) rule {
	lo, hi := stats.SquareAndAdd(iv, can.Errors, can.Requests, sta.Errors, sta.Requests, conf)
	pc, nc := agresti(can.Errors, can.Requests)
	ps, ns := agresti(sta.Errors, sta.Requests)
	est := math.NaN()
	if can.Requests > 0 && sta.Requests > 0 {
		est = can.Errors/can.Requests - sta.Errors/sta.Requests
	}
	fisher := stats.FisherGreater(can.Errors, can.Requests, sta.Errors, sta.Requests)
	return rule{
		name: RuleErrorIncrease, estimate: est, limit: margin, null: margin * tol,
		fig: pc - ps, v: pc*(1-pc)/nc + ps*(1-ps)/ns, lo: lo, hi: hi,
		enough: can.Requests >= minN && sta.Requests >= minN,
		can:    observed(can.Errors, can.Requests),
		sta:    observed(sta.Errors, sta.Requests),
		describe: func(p, alpha float64, v rollout.Verdict) string {
			return fmt.Sprintf("canary %.0f/%.0f errors (%s) vs stable %.0f/%.0f (%s): difference %s (%.0f %% CI %s to %s), limit +%s; Fisher p = %.2g; sequential (above +%s) %s → %s",
				can.Errors, can.Requests, pctOrNone(ratio(can.Errors, can.Requests)), sta.Errors, sta.Requests,
				pctOrNone(ratio(sta.Errors, sta.Requests)), pctOrNone(est), 100*conf, pct(lo), pct(hi), pct(margin),
				fisher, pct(margin*tol), pClause(p, alpha), verdictWord(v))
		},
	}
}

// slowRule: more than 5 % of canary requests slower than a latency, which
// is "the canary's p95 is above that latency" judged on counts.
func slowRule(iv stats.Interval, name string, can rollout.VersionCounts, latency, conf, minN float64, what string) rule {
	les, cum := buckets(can)
	above, total := stats.ShareAbove(les, cum, latency)
	lo, hi := iv(above, total, conf)
	ps, nn := agresti(above, total)
	est := ratio(above, total)
	return rule{
		name: name, estimate: est, limit: slowShare, null: slowShare,
		fig: ps, v: ps * (1 - ps) / nn, lo: lo, hi: hi, enough: total >= minN,
		can: observed(above, total),
		describe: func(p, alpha float64, v rollout.Verdict) string {
			return fmt.Sprintf("canary %.0f/%.0f requests slower than %s (%s, %.0f %% CI %s–%s); %s needs ≤ 5 %%: %s → %s",
				above, total, secs(latency), pctOrNone(est), 100*conf, pct(lo), pct(hi), what, pClause(p, alpha), verdictWord(v))
		},
	}
}

// minBaseline is the fewest stable requests a p95 baseline rests on: with
// 400, twenty requests lie above the p95, so its bucket is not a guess.
const minBaseline = 400

// latencyRatioRule: the canary's p95 above ratio × stable's p95, judged as
// the share of canary requests slower than that latency. Stable's p95 is
// itself an estimate, so each direction takes the bound that is fair to the
// canary: a rollback must show the canary slow against the upper bound of
// stable's p95, a pass must show it fast against the lower bound. The
// rollback test protects canaries up to 1 + (ratio-1) × tol times stable.
func latencyRatioRule(iv stats.Interval, can, sta rollout.VersionCounts, ratioLimit, tol, conf, minN float64) rule {
	sles, scum := buckets(sta)
	stableP95 := stats.QuantileFromBuckets(sles, scum, 0.95)
	if math.IsNaN(stableP95) || sta.Requests < math.Max(minN, minBaseline) {
		return rule{
			name: RuleLatencyRatio, estimate: math.NaN(), limit: slowShare, null: slowShare, fig: math.NaN(),
			lo: math.NaN(), hi: math.NaN(), sta: observed(math.NaN(), sta.Requests),
			describe: func(float64, float64, rollout.Verdict) string {
				if math.IsNaN(stableP95) {
					return fmt.Sprintf("stable has no latency histogram (%.0f requests) for a p95 baseline → Inconclusive", sta.Requests)
				}
				return fmt.Sprintf("stable has too few requests (%.0f, need %d) for a p95 baseline → Inconclusive", sta.Requests, minBaseline)
			},
		}
	}
	// The p95's rank is binomial: its bounds are the quantiles at 0.95 ± z·se.
	z := stats.NormalQuantile(1 - (1-conf)/2)
	se := math.Sqrt(0.95 * 0.05 / sta.Requests)
	upper := stats.QuantileFromBuckets(sles, scum, math.Min(0.95+z*se, 0.999))
	lower := stats.QuantileFromBuckets(sles, scum, 0.95-z*se)
	quiet := 1 + (ratioLimit-1)*tol
	fail := slowRule(iv, RuleLatencyRatio, can, quiet*upper, conf, minN, "")
	pass := slowRule(iv, RuleLatencyRatio, can, ratioLimit*lower, conf, minN, "")
	r := fail
	r.hi, r.enough = pass.hi, pass.enough
	slowStable, timedStable := stats.ShareAbove(sles, scum, stableP95)
	r.sta = observed(slowStable, timedStable)
	cles, ccum := buckets(can)
	mw := ""
	if len(cles) == len(sles) && len(cles) > 0 {
		_, zmw, pmw := stats.MannWhitneyBinned(perBin(ccum), perBin(scum))
		mw = fmt.Sprintf(" (Mann-Whitney canary slower: z = %.2f, p = %.2g)", zmw, pmw)
	}
	r.describe = func(p, alpha float64, v rollout.Verdict) string {
		return fmt.Sprintf("canary requests slower than %g × stable p95 %s (%.0f %% CI %s–%s): %s of %.0f above %.3g × its upper bound, ≤ %s above %g × its lower; p95 ratio needs ≤ 5 %%: %s → %s%s",
			ratioLimit, secs(stableP95), 100*conf, secs(lower), secs(upper), pctOrNone(fail.estimate), can.Requests,
			quiet, pct(pass.hi), ratioLimit, pClause(p, alpha), verdictWord(v), mw)
	}
	return r
}

// buckets returns a version's histogram as upper bounds and cumulative counts.
func buckets(v rollout.VersionCounts) (les, cum []float64) {
	for _, b := range v.Buckets {
		les = append(les, float64(b.LE))
		cum = append(cum, b.Count)
	}
	return les, cum
}

// perBin turns cumulative bucket counts into counts per bin.
func perBin(cum []float64) []float64 {
	out := make([]float64, len(cum))
	prev := 0.0
	for i, c := range cum {
		out[i] = math.Max(c-prev, 0)
		prev = c
	}
	return out
}

func ratio(x, n float64) float64 {
	if n <= 0 {
		return math.NaN()
	}
	return x / n
}

func pctOrNone(v float64) string {
	if math.IsNaN(v) {
		return "no data"
	}
	return pct(v)
}

func secs(s float64) string { return fmt.Sprintf("%.3gs", s) }

// observed records the counts a rule's estimate rests on.
func observed(events, total float64) *rollout.Observed {
	return &rollout.Observed{Events: rollout.Value(events), Total: rollout.Value(total)}
}
