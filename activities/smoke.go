package activities

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/canaryflow/canaryflow/rollout"
)

// Smoke test constants. The latency floor keeps two sub-millisecond local
// servers from failing on a meaningless ratio such as 0.3 ms vs 0.1 ms.
const (
	smokeConcurrency  = 4
	smokeLatencyFloor = time.Millisecond
	smokeMetricsPath  = "/metrics"
	smokeRSSMetric    = "process_resident_memory_bytes"
)

// MaxSmokeAnswerBytes bounds each answer a smoke test reads (an endpoint's
// body, the canary's /metrics): the URLs come from the spec, and a larger
// answer fails its check with a message saying so rather than being read
// without end.
const MaxSmokeAnswerBytes = 4 << 20

// smokeTarget reaches one version: its own URL, or the shared URL plus the
// traffic header that forces the router's choice.
type smokeTarget struct {
	name   string
	base   string
	header http.Header
	// done counts requests answered or failed, for heartbeats; nil when not counted.
	done *atomic.Int64
}

// smokeResult is one request's outcome; status is 0 when nothing answered.
type smokeResult struct {
	status int
	took   time.Duration
	err    error
	body   []byte
}

func (r smokeResult) answered() bool { return r.err == nil }
func (r smokeResult) ok() bool       { return r.err == nil && r.status >= 200 && r.status < 300 }

// SmokeTest runs the reference smoke tests against the canary before any
// traffic moves: health, response time against stable, critical endpoints,
// error rate and memory. A failed check is a result, not an activity error,
// so the workflow can record the report and roll back; only a done context
// is an error, because then the report is incomplete. It heartbeats with its
// progress while requests run, and every URL it reports is redacted.
func (a *Activities) SmokeTest(ctx context.Context, spec rollout.Spec) (rollout.SmokeReport, error) {
	spec = spec.WithDefaults()
	sm := spec.Smoke
	if sm.Skip {
		return rollout.SmokeReport{Checks: []rollout.SmokeCheck{{Name: "skipped", Passed: true, Figure: "smoke.skip is set"}}}, nil
	}
	canary, stable := smokeTargets(spec)
	var done atomic.Int64
	canary.done, stable.done = &done, &done
	total := len(sm.Endpoints) + 2 + 2*sm.Requests
	defer heartbeatWhile(ctx, func() any {
		return fmt.Sprintf("smoke test: %d of %d requests done", done.Load(), total)
	})()
	c := a.httpClient()

	// Single probes first, then the sample both the response-time and the
	// error-rate checks are judged on, canary and stable interleaved so both
	// see the same conditions.
	probes := append([]string{sm.HealthPath}, sm.Endpoints...)
	probes = append(probes, smokeMetricsPath)
	probed := make([]smokeResult, len(probes))
	smokeParallel(len(probes), func(i int) {
		probed[i] = smokeGet(ctx, c, canary, probes[i], i == len(probes)-1)
	})
	paths := make([]string, sm.Requests)
	for i := range paths {
		paths[i] = sm.Endpoints[i%len(sm.Endpoints)]
	}
	canaryRes := make([]smokeResult, sm.Requests)
	stableRes := make([]smokeResult, sm.Requests)
	smokeParallel(2*sm.Requests, func(i int) {
		if i%2 == 0 {
			canaryRes[i/2] = smokeGet(ctx, c, canary, paths[i/2], false)
		} else {
			stableRes[i/2] = smokeGet(ctx, c, stable, paths[i/2], false)
		}
	})

	report := rollout.SmokeReport{}
	report.Checks = append(report.Checks, smokeHealthCheck(sm.HealthPath, probed[0]))
	report.Checks = append(report.Checks, smokeLatencyCheck(canaryRes, stableRes, sm.MaxLatencyRatio))
	for i, e := range sm.Endpoints {
		report.Checks = append(report.Checks, smokeEndpointCheck(e, probed[1+i]))
	}
	report.Checks = append(report.Checks, smokeErrorRateCheck(canaryRes, *sm.MaxErrorRate))
	report.Checks = append(report.Checks, smokeMemoryCheck(probed[len(probed)-1], sm.MaxMemoryMB))

	if err := ctx.Err(); err != nil {
		return report, fmt.Errorf("smoke testing %s: %w", rollout.RedactURL(canary.base), err)
	}
	slog.InfoContext(ctx, "smoke test done", "app", spec.App, "passed", report.Passed(), "failures", report.Failures())
	return report, nil
}

// smokeTargets chooses direct URLs when both are set, else the shared URL
// with "<header>: always" for the canary and "never" for stable.
func smokeTargets(spec rollout.Spec) (canary, stable smokeTarget) {
	sm := spec.Smoke
	if sm.CanaryURL != "" && sm.StableURL != "" {
		return smokeTarget{name: "canary", base: sm.CanaryURL}, smokeTarget{name: "stable", base: sm.StableURL}
	}
	h := spec.Traffic.Header
	return smokeTarget{name: "canary", base: sm.BaseURL, header: http.Header{h: {"always"}}},
		smokeTarget{name: "stable", base: sm.BaseURL, header: http.Header{h: {"never"}}}
}

// smokeParallel runs fn(0..n-1) with at most smokeConcurrency at a time.
func smokeParallel(n int, fn func(i int)) {
	sem := make(chan struct{}, smokeConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

// smokeGet requests one path and reads the answer (at most
// MaxSmokeAnswerBytes). Its errors name the URL redacted, and scrub the
// target's secrets from whatever a library quoted.
func smokeGet(ctx context.Context, c *http.Client, t smokeTarget, path string, keepBody bool) smokeResult {
	res := smokeDo(ctx, c, t, path, keepBody)
	if t.done != nil {
		t.done.Add(1)
	}
	res.err = rollout.RedactError(res.err, t.base)
	return res
}

func smokeDo(ctx context.Context, c *http.Client, t smokeTarget, path string, keepBody bool) smokeResult {
	u := smokeURL(t.base, path)
	shown := rollout.RedactURL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return smokeResult{err: fmt.Errorf("building request for %s: %w", shown, err)}
	}
	for k, v := range t.header {
		req.Header[k] = v
	}
	if keepBody {
		// The text format is the one expfmt's TextParser reads.
		req.Header.Set("Accept", "text/plain;version=0.0.4")
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return smokeResult{err: fmt.Errorf("requesting %s %s: %w", t.name, shown, err), took: time.Since(start)}
	}
	defer resp.Body.Close()
	res := smokeResult{status: resp.StatusCode}
	var n int64
	if keepBody {
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, MaxSmokeAnswerBytes+1))
		n = int64(len(res.body))
	} else {
		n, err = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxSmokeAnswerBytes+1))
	}
	res.took = time.Since(start)
	switch {
	case err != nil:
		res.err = fmt.Errorf("reading %s %s: %w", t.name, shown, err)
	case n > MaxSmokeAnswerBytes:
		res.err = fmt.Errorf("reading %s %s: the answer is larger than %d bytes", t.name, shown, MaxSmokeAnswerBytes)
		res.body = nil
	}
	return res
}

// smokeURL appends path (which may have its own query) to base, keeping
// base's query string (a token) as a query rather than part of the path.
func smokeURL(base, path string) string {
	b, err := url.Parse(base)
	p, perr := url.Parse(path)
	if err != nil || perr != nil {
		return strings.TrimSuffix(base, "/") + path
	}
	u := *b
	u.Path = strings.TrimSuffix(b.Path, "/") + p.Path
	u.RawPath = ""
	u.RawQuery = strings.Trim(p.RawQuery+"&"+b.RawQuery, "&")
	return u.String()
}

func smokeStatusFigure(r smokeResult) string {
	if !r.answered() {
		return "no answer"
	}
	return fmt.Sprintf("status %d", r.status)
}

func smokeErrDetail(r smokeResult) string {
	if r.err != nil {
		return r.err.Error()
	}
	return ""
}

func smokeHealthCheck(path string, r smokeResult) rollout.SmokeCheck {
	c := rollout.SmokeCheck{Name: "health", Passed: r.answered() && r.status == http.StatusOK, Figure: smokeStatusFigure(r), Detail: smokeErrDetail(r)}
	if r.answered() && !c.Passed {
		c.Detail = fmt.Sprintf("GET %s must answer 200", path)
	}
	return c
}

func smokeEndpointCheck(path string, r smokeResult) rollout.SmokeCheck {
	c := rollout.SmokeCheck{Name: "endpoint " + path, Passed: r.ok(), Figure: smokeStatusFigure(r), Detail: smokeErrDetail(r)}
	if r.answered() {
		c.Figure += " in " + smokeMs(r.took)
		if !c.Passed {
			c.Detail = "must answer 2xx"
		}
	}
	return c
}

func smokeMeanLatency(rs []smokeResult) (time.Duration, int) {
	var sum time.Duration
	n := 0
	for _, r := range rs {
		if r.answered() {
			sum += r.took
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return sum / time.Duration(n), n
}

func smokeLatencyCheck(canary, stable []smokeResult, maxRatio float64) rollout.SmokeCheck {
	c := rollout.SmokeCheck{Name: "response time"}
	cm, cn := smokeMeanLatency(canary)
	sMean, sn := smokeMeanLatency(stable)
	switch {
	case cn == 0:
		c.Figure, c.Detail = "canary did not answer", smokeFirstErr(canary)
		return c
	case sn == 0:
		c.Figure, c.Detail = "stable did not answer", "a reference is needed to compare against: "+smokeFirstErr(stable)
		return c
	}
	ratio := float64(cm) / float64(max(sMean, smokeLatencyFloor))
	c.Passed = ratio < maxRatio
	c.Figure = fmt.Sprintf("canary %s vs stable %s (ratio %.1f, max %g)", smokeMs(cm), smokeMs(sMean), ratio, maxRatio)
	if !c.Passed {
		c.Detail = fmt.Sprintf("mean over %d canary and %d stable requests", cn, sn)
	}
	return c
}

func smokeErrorRateCheck(rs []smokeResult, maxRate float64) rollout.SmokeCheck {
	statuses := map[int]int{}
	failed, transport := 0, 0
	var lastErr string
	for _, r := range rs {
		switch {
		case !r.answered():
			failed++
			transport++
			lastErr = r.err.Error()
		case r.status >= 500:
			failed++
			statuses[r.status]++
		default:
			statuses[r.status]++
		}
	}
	share := float64(failed) / float64(len(rs))
	c := rollout.SmokeCheck{
		Name:   "error rate",
		Passed: failed == 0 || share < maxRate,
		Figure: fmt.Sprintf("%d/%d errors (%.1f%%)", failed, len(rs), 100*share),
	}
	if !c.Passed {
		var parts []string
		for _, s := range slices.Sorted(maps.Keys(statuses)) {
			parts = append(parts, fmt.Sprintf("%d×%d", statuses[s], s))
		}
		c.Detail = fmt.Sprintf("max %.1f%%", 100*maxRate)
		if len(parts) > 0 {
			c.Detail += "; statuses " + strings.Join(parts, ", ")
		}
		if transport > 0 {
			c.Detail += fmt.Sprintf("; %d without answer (last: %s)", transport, lastErr)
		}
	}
	return c
}

func smokeMemoryCheck(r smokeResult, maxMB float64) rollout.SmokeCheck {
	c := rollout.SmokeCheck{Name: "memory"}
	if !r.ok() {
		c.Figure, c.Detail = "no metrics", fmt.Sprintf("GET %s: %s", smokeMetricsPath, smokeStatusFigure(r))
		if r.err != nil {
			c.Detail = r.err.Error()
		}
		return c
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(r.body)))
	if err != nil {
		c.Figure, c.Detail = "unreadable metrics", fmt.Sprintf("parsing %s: %v", smokeMetricsPath, err)
		return c
	}
	fam := fams[smokeRSSMetric]
	if fam == nil || len(fam.GetMetric()) == 0 {
		c.Figure = "no " + smokeRSSMetric
		c.Detail = fmt.Sprintf("the canary's %s does not export %s; register the Prometheus process collector", smokeMetricsPath, smokeRSSMetric)
		return c
	}
	m := fam.GetMetric()[0]
	bytes := m.GetGauge().GetValue()
	if m.GetGauge() == nil {
		bytes = m.GetUntyped().GetValue()
	}
	mb := bytes / (1 << 20)
	c.Passed = mb < maxMB
	c.Figure = fmt.Sprintf("%.0f MB of max %g", mb, maxMB)
	return c
}

func smokeFirstErr(rs []smokeResult) string {
	for _, r := range rs {
		if r.err != nil {
			return r.err.Error()
		}
	}
	return ""
}

// smokeMs renders a duration in milliseconds, with a decimal below 10 ms where
// local servers live.
func smokeMs(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}
