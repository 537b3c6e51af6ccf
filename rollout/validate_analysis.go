package rollout

import "time"

// analysis refuses intervals and windows out of bounds and every threshold
// or limit that would switch a rollback rule off: a rule that can never
// fire is worse than no rule, because the plan reads as if it were watched.
func (c *checker) analysis(a Analysis) {
	if a.Interval.D() < MinAnalysisInterval || a.Interval.D() > MaxAnalysisInterval {
		c.add("analysis.interval", "must be between %s and %s (each measurement is several Prometheus queries), got %s",
			MinAnalysisInterval, MaxAnalysisInterval, a.Interval.D())
	}
	if a.Window.D() < time.Second || a.Window.D() > MaxAnalysisWindow {
		c.add("analysis.window", "must be between 1s and %s, got %s", MaxAnalysisWindow, a.Window.D())
	}
	c.thresholds(a.Thresholds)
	c.limits(a.Limits)
	c.judging(a.Judging)
}

func (c *checker) thresholds(t Thresholds) {
	const p = "analysis.thresholds."
	if v := t.MaxErrorRate; v != nil && !(*v > 0 && *v <= MaxErrorRateLimit) {
		c.add(p+"maxErrorRate", "must be a fraction above 0 (a single error would fail the canary) and at most %g, got %g", MaxErrorRateLimit, *v)
	}
	if v := t.MaxErrorRateIncrease; v != nil && !(*v >= 0 && *v <= MaxErrorRateLimit) {
		c.add(p+"maxErrorRateIncrease", "must be a fraction between 0 and %g, got %g", MaxErrorRateLimit, *v)
	}
	if d := t.MaxP95.D(); d < MinP95Limit || d > MaxP95Limit {
		c.add(p+"maxP95", "must be between %s and %s, got %s", MinP95Limit, MaxP95Limit, d)
	}
	c.ratio(p+"maxLatencyRatio", t.MaxLatencyRatio)
	if v := t.MinRequestRate; v != nil && !(*v > 0 && *v <= MaxMinRequestRate) {
		c.add(p+"minRequestRate", "must be above 0 (or a trickle of requests is judged) and at most %g req/s, got %g", MaxMinRequestRate, *v)
	}
}

// ratio checks a canary/stable latency multiplier: at 1 or below a canary
// as fast as stable fails, and a huge one never fires.
func (c *checker) ratio(path string, v float64) {
	if !(v > 1 && v <= MaxLatencyRatioLimit) {
		c.add(path, "must be above 1 and at most %g, got %g", MaxLatencyRatioLimit, v)
	}
}

func (c *checker) limits(l Limits) {
	for _, f := range []struct {
		path  string
		v     *int
		limit int
	}{
		{"analysis.limits.maxFailures", l.MaxFailures, MaxFailuresLimit},
		{"analysis.limits.maxInconclusive", l.MaxInconclusive, MaxInconclusiveLimit},
		{"analysis.limits.maxConsecutiveErrors", l.MaxConsecutiveErrors, MaxConsecutiveErrorsLimit},
	} {
		if f.v != nil && (*f.v < 0 || *f.v > f.limit) {
			c.add(f.path, "must be between 0 and %d, got %d", f.limit, *f.v)
		}
	}
}
