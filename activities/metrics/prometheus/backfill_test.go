package prometheus_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	promsource "github.com/canaryflow/canaryflow/activities/metrics/prometheus"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
)

// The recording: scrapes every 15 s, 41 of them (40 intervals, 10 minutes),
// the last at the recording's end. Every series starts at 0 on the first
// scrape, as a freshly started process's would.
const (
	scrapeEvery = 15 * time.Second
	intervals   = 40
	recorded    = intervals * scrapeEvery
)

// bounds are the histogram's upper bounds; the last is +Inf.
var bounds = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, math.Inf(1)}

// stream is one process's requests of one version of one app: for each
// scrape interval i (1…40), the requests that finished in it by status
// code, as counts per latency bin (not cumulative, one per bound).
type stream struct {
	app, version, instance string
	codes                  []string
	perInterval            func(i int, code string) []int
	// restartAt is the scrape at which the process had restarted: every
	// counter reads only that interval's requests (0: never restarts).
	restartAt int
	// noBuckets exports the count alone, as a histogram whose buckets were
	// dropped by relabelling would.
	noBuckets bool
}

// steady gives the same bins every interval.
func steady(bins map[string][]int) func(int, string) []int {
	return func(_ int, code string) []int { return bins[code] }
}

// Canary of "shop": phase A (intervals 1–20) 30 requests per interval
// (2 req/s), 3 of them 5xx; phase B (21–40) 60 per interval (4 req/s), 3 5xx.
var (
	canaryA = map[string][]int{"200": {0, 5, 10, 8, 3, 1, 0}, "500": {3, 0, 0, 0, 0, 0, 0}}
	canaryB = map[string][]int{"200": {0, 10, 20, 15, 8, 3, 1}, "500": {3, 0, 0, 0, 0, 0, 0}}
	// Each stable process: 60 per interval (4 req/s), one slow 5xx.
	stableBins = map[string][]int{"200": {10, 30, 15, 3, 1, 0, 0}, "500": {0, 0, 0, 0, 0, 1, 0}}
)

func recording() []stream {
	return []stream{
		{app: "shop", version: "canary", instance: "c1", codes: []string{"200", "500"},
			perInterval: func(i int, code string) []int {
				if i <= 20 {
					return canaryA[code]
				}
				return canaryB[code]
			}},
		{app: "shop", version: "stable", instance: "s1", codes: []string{"200", "500"}, perInterval: steady(stableBins)},
		// The second stable process restarted before the 10th scrape.
		{app: "shop", version: "stable", instance: "s2", codes: []string{"200", "500"}, perInterval: steady(stableBins), restartAt: 10},

		// "clean" never failed: no code="5xx" series at all.
		{app: "clean", version: "canary", instance: "c1", codes: []string{"200"}, perInterval: steady(map[string][]int{"200": {0, 10, 0, 0, 0, 0, 0}})},
		{app: "clean", version: "stable", instance: "s1", codes: []string{"200"}, perInterval: steady(map[string][]int{"200": {5, 15, 0, 0, 0, 0, 0}})},

		// "nohist" has counts and no buckets: 5 per interval, 1 a 5xx.
		{app: "nohist", version: "canary", instance: "c1", codes: []string{"200", "500"}, noBuckets: true,
			perInterval: steady(map[string][]int{"200": {0, 4, 0, 0, 0, 0, 0}, "500": {0, 1, 0, 0, 0, 0, 0}})},
		{app: "nohist", version: "stable", instance: "s1", codes: []string{"200"}, noBuckets: true,
			perInterval: steady(map[string][]int{"200": {0, 10, 0, 0, 0, 0, 0}})},

		// "stableonly" has no canary series.
		{app: "stableonly", version: "stable", instance: "s1", codes: []string{"200"}, perInterval: steady(map[string][]int{"200": {0, 10, 0, 0, 0, 0, 0}})},
	}
}

// openMetrics renders the streams as OpenMetrics text with timestamps, the
// last scrape at end, as promtool's backfill reads it.
func openMetrics(streams []stream, end time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP %s Request duration.\n# TYPE %s histogram\n", metric, metric)
	for _, st := range streams {
		for _, code := range st.codes {
			// cum[k] is the bucket counter for bounds[k]; the last is the count.
			series := make([][]int, intervals+1)
			cum := make([]int, len(bounds))
			series[0] = slices.Clone(cum)
			for i := 1; i <= intervals; i++ {
				if i == st.restartAt {
					clear(cum)
				}
				below := 0
				for k, n := range st.perInterval(i, code) {
					below += n
					cum[k] += below
				}
				series[i] = slices.Clone(cum)
			}
			labels := fmt.Sprintf(`app=%q,version=%q,instance=%q,code=%q`, st.app, st.version, st.instance, code)
			at := func(i int) int64 { return end.Add(time.Duration(i-intervals) * scrapeEvery).Unix() }
			if !st.noBuckets {
				for k, le := range bounds {
					for i, vals := range series {
						fmt.Fprintf(&b, "%s_bucket{%s,le=%q} %d %d\n", metric, labels, leText(le), vals[k], at(i))
					}
				}
			}
			for i, vals := range series {
				fmt.Fprintf(&b, "%s_count{%s} %d %d\n", metric, labels, vals[len(bounds)-1], at(i))
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

func leText(le float64) string {
	if math.IsInf(le, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(le, 'g', -1, 64)
}

// backfill writes the streams into a fresh TSDB with promtool and starts a
// Prometheus on it, scraping nothing.
func backfill(t *testing.T, streams []stream, end time.Time) *devstack.Prometheus {
	t.Helper()
	promtool, err := devstack.Binary("", "promtool")
	require.NoError(t, err)
	dir := t.TempDir()
	in := filepath.Join(dir, "recorded.om")
	require.NoError(t, os.WriteFile(in, []byte(openMetrics(streams, end)), 0o644))
	tsdb := filepath.Join(dir, "tsdb")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", in, tsdb).CombinedOutput()
	require.NoError(t, err, "promtool tsdb create-blocks-from openmetrics: %s", out)
	return testenv.PrometheusWith(t, devstack.PrometheusOptions{TSDBDir: tsdb})
}

func appSpec(address, app string) rollout.Spec {
	return rollout.Spec{App: app, Metrics: rollout.Metrics{Kind: "prometheus", Prometheus: &rollout.PrometheusMetrics{Address: address, Metric: metric}}}
}

func buckets(counts ...float64) []rollout.Bucket {
	out := make([]rollout.Bucket, len(counts))
	for i, c := range counts {
		out[i] = rollout.Bucket{LE: rollout.Value(bounds[i]), Count: c}
	}
	return out
}

// TestCountsOfARecording loads ten recorded minutes into a real Prometheus
// and checks every count the source reads against the recorded increases.
//
// Exactness: increase() extrapolates a range's first and last samples to
// the range's ends. Every series here starts at 0, which stops the
// extrapolation towards the start (Prometheus never extrapolates a counter
// below zero), and the clock is pinned to the last scrape, so there is none
// towards the end: over a range covering the whole recording, increase()
// is the recorded increase exactly, counter reset included. Ranges that
// begin inside the recording begin in phase B, where every series grows
// linearly, so extrapolating to their start is exact too (on servers whose
// ranges include or exclude their left end alike). One subtest uses the
// real clock and bounds the extrapolation instead.
func TestCountsOfARecording(t *testing.T) {
	end := time.Now().Add(-time.Second).Truncate(time.Second)
	prom := backfill(t, recording(), end)
	src := promsource.New(prom.URL(), promsource.WithClock(func() time.Time { return end }))
	ctx := context.Background()
	// Longer than the recording: every series' whole history.
	whole := recorded + time.Minute
	const eps = 1e-9

	t.Run("window counts are the recorded increases", func(t *testing.T) {
		s, err := src.Measure(ctx, appSpec("", "shop"), whole)
		require.NoError(t, err)
		require.NotNil(t, s.Window)
		w := s.Window
		assert.Equal(t, rollout.Duration(whole), w.Span)
		// Canary: 20 × 30 + 20 × 60 requests, 40 × 3 of them 5xx.
		assert.InDelta(t, 1800, w.Canary.Requests, eps)
		assert.InDelta(t, 120, w.Canary.Errors, eps)
		// Stable: 2 processes × 40 × 60, one 5xx per interval each; the
		// restart's counter reset is counted through.
		assert.InDelta(t, 4800, w.Stable.Requests, eps)
		assert.InDelta(t, 80, w.Stable.Errors, eps)
		// The figures describe the same data: rate = increase / range.
		assert.InDelta(t, 1800/whole.Seconds(), float64(s.Canary.RequestRate), eps)
		assert.InDelta(t, 120.0/1800, float64(s.Canary.ErrorRate), eps)
		assert.InDelta(t, 80.0/4800, float64(s.Stable.ErrorRate), eps)
		assert.Equal(t, `sum(increase(http_request_duration_seconds_count{version="canary",app="shop"}[660s]))`, s.Queries["canary.requests"])
		assert.Equal(t, `sum(increase(http_request_duration_seconds_count{version="stable",app="shop",code=~"5.."}[660s])) or vector(0)`, s.Queries["stable.errors"])
		assert.Equal(t, `sum by (le) (increase(http_request_duration_seconds_bucket{version="canary",app="shop"}[660s]))`, s.Queries["canary.buckets"])
	})

	t.Run("bucket counts by le, +Inf last", func(t *testing.T) {
		s, err := src.Measure(ctx, appSpec("", "shop"), whole)
		require.NoError(t, err)
		// Canary, cumulative per interval: phase A 3 8 18 26 29 30 30 (the
		// 5xx are fast), phase B 3 13 33 48 56 59 60; 20 intervals of each.
		assertBuckets(t, buckets(120, 420, 1020, 1480, 1700, 1780, 1800), s.Window.Canary.Buckets)
		// Stable: 10 40 55 58 59 60 60 (the 5xx is slow) × 80 process-intervals.
		assertBuckets(t, buckets(800, 3200, 4400, 4640, 4720, 4800, 4800), s.Window.Stable.Buckets)
	})

	t.Run("no 5xx series: 0 errors", func(t *testing.T) {
		s, err := src.Measure(ctx, appSpec("", "clean"), whole)
		require.NoError(t, err)
		assert.InDelta(t, 400, s.Window.Canary.Requests, eps)
		assert.InDelta(t, 800, s.Window.Stable.Requests, eps)
		assert.Zero(t, s.Window.Canary.Errors)
		assert.Zero(t, s.Window.Stable.Errors)
		assert.Zero(t, float64(s.Canary.ErrorRate))
		assertBuckets(t, buckets(0, 400, 400, 400, 400, 400, 400), s.Window.Canary.Buckets)
	})

	t.Run("no histogram: counts without buckets, and no failure", func(t *testing.T) {
		s, err := src.Measure(ctx, appSpec("", "nohist"), whole)
		require.NoError(t, err)
		assert.InDelta(t, 200, s.Window.Canary.Requests, eps)
		assert.InDelta(t, 40, s.Window.Canary.Errors, eps)
		assert.InDelta(t, 400, s.Window.Stable.Requests, eps)
		assert.Empty(t, s.Window.Canary.Buckets)
		assert.Empty(t, s.Window.Stable.Buckets)
		assert.True(t, s.Canary.P95.Missing())

		c, err := src.MeasureCounts(ctx, appSpec("", "nohist"), end.Add(-time.Hour))
		require.NoError(t, err)
		assert.InDelta(t, 200, c.Canary.Requests, eps)
		assert.Empty(t, c.Canary.Buckets)
	})

	t.Run("no canary series: ErrNoData, stable still counted", func(t *testing.T) {
		s, err := src.Measure(ctx, appSpec("", "stableonly"), whole)
		require.ErrorIs(t, err, rollout.ErrNoData)
		assert.NotErrorIs(t, err, rollout.ErrQueryFailed)
		require.NotNil(t, s.Window)
		assert.Zero(t, s.Window.Canary.Requests)
		assert.Empty(t, s.Window.Canary.Buckets)
		assert.InDelta(t, 400, s.Window.Stable.Requests, eps)

		c, err := src.MeasureCounts(ctx, appSpec("", "stableonly"), end.Add(-5*time.Minute))
		require.ErrorIs(t, err, rollout.ErrNoData)
		assert.Contains(t, err.Error(), `version="canary",app="stableonly"`)
		require.NotNil(t, c)
		assert.InDelta(t, 200, c.Stable.Requests, eps)
	})

	t.Run("MeasureCounts since a moment inside the recording", func(t *testing.T) {
		// The 24th scrape: intervals 25–40 follow, all in phase B.
		c, err := src.MeasureCounts(ctx, appSpec("", "shop"), end.Add(-16*scrapeEvery))
		require.NoError(t, err)
		assert.Equal(t, rollout.Duration(240*time.Second), c.Span)
		assert.InDelta(t, 16*60, c.Canary.Requests, eps)
		assert.InDelta(t, 16*3, c.Canary.Errors, eps)
		assertBuckets(t, buckets(48, 208, 528, 768, 896, 944, 960), c.Canary.Buckets)
		assert.InDelta(t, 2*16*60, c.Stable.Requests, eps)
		assert.InDelta(t, 2*16, c.Stable.Errors, eps)
	})

	t.Run("MeasureCounts rounds the span up to whole seconds", func(t *testing.T) {
		// 237.4 s ago → 238 s: the canary's 4 req/s over 238 s.
		c, err := src.MeasureCounts(ctx, appSpec("", "shop"), end.Add(-237400*time.Millisecond))
		require.NoError(t, err)
		assert.Equal(t, rollout.Duration(238*time.Second), c.Span)
		assert.InDelta(t, 4*238, c.Canary.Requests, 1e-6)
		assert.InDelta(t, 8*238, c.Stable.Requests, 1e-6)
	})

	t.Run("MeasureCounts spans at least a scrape interval", func(t *testing.T) {
		// A since just ahead of the clock (another machine's) still asks
		// about the last scrape interval: two scrapes, 4 req/s × 30 s.
		src := promsource.New(prom.URL(), promsource.WithScrapeInterval(30*time.Second), promsource.WithClock(func() time.Time { return end }))
		c, err := src.MeasureCounts(ctx, appSpec("", "shop"), end.Add(5*time.Second))
		require.NoError(t, err)
		assert.Equal(t, rollout.Duration(30*time.Second), c.Span)
		assert.InDelta(t, 120, c.Canary.Requests, 1e-6)
	})

	t.Run("MeasureCounts since before the recording, and capped at a day", func(t *testing.T) {
		c, err := src.MeasureCounts(ctx, appSpec("", "shop"), end.Add(-2*time.Hour))
		require.NoError(t, err)
		assert.Equal(t, rollout.Duration(2*time.Hour), c.Span)
		assert.InDelta(t, 1800, c.Canary.Requests, eps)
		assert.InDelta(t, 4800, c.Stable.Requests, eps)

		c, err = src.MeasureCounts(ctx, appSpec("", "shop"), time.Time{})
		require.NoError(t, err)
		assert.Equal(t, rollout.Duration(promsource.MaxCountsSpan), c.Span)
		assert.InDelta(t, 120, c.Canary.Errors, eps)
	})

	t.Run("on the real clock, within Prometheus' extrapolation", func(t *testing.T) {
		// Evaluated δ after the last scrape, increase() extends the sampled
		// 600 s to the range's end: by δ when δ < 1.1 × 15 s, else by half
		// a scrape interval (7.5 s). The start is not extended (the series
		// start at 0). So the count is 1800 × (600 + e) / 600 with e between
		// min(δ before, 7.5 s) and max(min(δ after, 16.5 s), 7.5 s): at most
		// 2.75 % over the recorded count, never under it.
		live := promsource.New(prom.URL())
		before := time.Since(end)
		s, err := live.Measure(ctx, appSpec("", "shop"), 15*time.Minute)
		after := time.Since(end)
		require.NoError(t, err)
		lo := min(before, scrapeEvery/2).Seconds()
		hi := max(min(after, scrapeEvery*11/10), scrapeEvery/2).Seconds()
		got := s.Window.Canary.Requests
		t.Logf("δ between %s and %s: %g canary requests", before, after, got)
		assert.GreaterOrEqual(t, got, 1800*(600+lo)/600-0.01)
		assert.LessOrEqual(t, got, 1800*(600+hi)/600+0.01)
		assert.InDelta(t, 120.0/1800, float64(s.Canary.ErrorRate), eps, "extrapolation scales both counts alike")
	})
}

// assertBuckets compares bounds exactly and counts within float noise.
func assertBuckets(t *testing.T, want, got []rollout.Bucket) {
	t.Helper()
	require.Len(t, got, len(want), "%v", got)
	for i := range want {
		assert.Equal(t, want[i].LE, got[i].LE, "bucket %d", i)
		assert.InDelta(t, want[i].Count, got[i].Count, 1e-6, "bucket le=%g", float64(want[i].LE))
	}
}
