package prometheus_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	promsource "github.com/canaryflow/canaryflow/activities/metrics/prometheus"
	"github.com/canaryflow/canaryflow/rollout"
)

// hostileApp is an app label value that would end its string and add
// PromQL if it were pasted into a query unescaped.
const hostileApp = `x"} or vector(1) # \`

// errShare is a custom metric per version: the 5xx share over the window.
const errShare = `sum(increase(` + metric + `_count{app="{{app}}",version="{{version}}",code=~"5.."}[{{window}}]))` +
	` / sum(increase(` + metric + `_count{app="{{app}}",version="{{version}}"}[{{window}}]))`

func customMetricsSpec(address, app string, ms ...rollout.CustomMetric) rollout.Spec {
	s := appSpec(address, app)
	s.Namespace = "prod"
	s.Analysis.Metrics = ms
	return s
}

func customOf(t *testing.T, s rollout.Sample, name string) rollout.CustomResult {
	t.Helper()
	for _, c := range s.Custom {
		if c.Name == name {
			return c
		}
	}
	require.Failf(t, "no custom result", "%s in %+v", name, s.Custom)
	return rollout.CustomResult{}
}

func valueOf(t *testing.T, c rollout.CustomResult, version string) rollout.CustomValue {
	t.Helper()
	for _, v := range c.Values {
		if v.Version == version {
			return v
		}
	}
	require.Failf(t, "no value", "%s for %q in %+v", c.Name, version, c)
	return rollout.CustomValue{}
}

// TestCustomMetricsOfARecording asks custom metrics of the recording
// loaded into a real Prometheus, beside the built-in figures: per version
// and once, a missing series (no data, never 0), a query Prometheus
// refuses and one with several series (that metric's error, not the
// measurement's), and an app whose label value is hostile PromQL.
func TestCustomMetricsOfARecording(t *testing.T) {
	end := time.Now().Add(-time.Second).Truncate(time.Second)
	streams := append(recording(),
		stream{app: hostileApp, version: "canary", instance: "c1", codes: []string{"200"}, perInterval: steady(map[string][]int{"200": {0, 3, 0, 0, 0, 0, 0}})},
		stream{app: hostileApp, version: "stable", instance: "s1", codes: []string{"200"}, perInterval: steady(map[string][]int{"200": {0, 5, 0, 0, 0, 0, 0}})},
	)
	prom := backfill(t, streams, end)
	src := promsource.New(prom.URL(), promsource.WithClock(func() time.Time { return end }))
	ctx := context.Background()
	whole := recorded + time.Minute
	const eps = 1e-9
	metrics := []rollout.CustomMetric{
		{Name: "err_share", Query: errShare, FailureCondition: "result >= 0.05"},
		{Name: "total", Query: `sum(increase(` + metric + `_count{app="{{app}}"}[{{window}}]))`, SuccessCondition: "result > 0"},
		{Name: "absent", Query: `sum(rate(no_such_metric{app="{{app}}",version="{{version}}"}[{{window}}]))`, SuccessCondition: "result < 1"},
		{Name: "broken", Query: `sum(rate(` + metric + `_count{app="{{app}}"}[{{window}}])`, SuccessCondition: "result < 1"},
		{Name: "several", Query: `sum by (version) (increase(` + metric + `_count{app="{{app}}"}[{{window}}]))`, SuccessCondition: "result < 1"},
	}

	t.Run("per version and once, beside the built-ins", func(t *testing.T) {
		s, err := src.Measure(ctx, customMetricsSpec("", "shop", metrics...), whole)
		require.NoError(t, err, "a failed custom query is not a failed measurement")
		assert.InDelta(t, 120.0/1800, float64(s.Canary.ErrorRate), eps, "the built-ins are measured as before")
		require.Len(t, s.Custom, len(metrics))
		for i, m := range metrics {
			assert.Equal(t, m.Name, s.Custom[i].Name, "in the spec's order")
		}

		share := customOf(t, s, "err_share")
		assert.Empty(t, share.Err)
		require.Len(t, share.Values, 2)
		canary, stable := valueOf(t, share, "canary"), valueOf(t, share, "stable")
		assert.InDelta(t, 120.0/1800, float64(canary.Value), eps)
		assert.InDelta(t, 80.0/4800, float64(stable.Value), eps)
		assert.Equal(t, `sum(increase(`+metric+`_count{app="shop",version="canary",code=~"5.."}[660s]))`+
			` / sum(increase(`+metric+`_count{app="shop",version="canary"}[660s]))`, canary.Query)

		total := customOf(t, s, "total")
		require.Len(t, total.Values, 1, "no {{version}}: asked once")
		assert.Empty(t, total.Values[0].Version)
		assert.InDelta(t, 1800+4800, float64(total.Values[0].Value), eps)

		absent := customOf(t, s, "absent")
		assert.Empty(t, absent.Err)
		assert.True(t, valueOf(t, absent, "canary").Value.Missing(), "a missing series is no data, not 0")
		assert.True(t, valueOf(t, absent, "stable").Value.Missing())

		assert.Contains(t, customOf(t, s, "broken").Err, "querying Prometheus at")
		assert.Contains(t, customOf(t, s, "several").Err, "2 series returned, expected one")

		// Judged: the canary's 6.7 % share fails; no data and the failed
		// queries never pass.
		rs := rollout.EvaluateCustom(metrics, s)
		verdicts := map[string]rollout.Verdict{}
		for _, r := range rs {
			verdicts[r.Rule] = r.Verdict
		}
		assert.Equal(t, map[string]rollout.Verdict{
			"err_share": rollout.Failed, "total": rollout.Successful, "absent": rollout.Inconclusive,
			"broken": rollout.Error, "several": rollout.Error,
		}, verdicts)
		assert.Equal(t, "err_share canary 0.0666667 ≥ 0.05 (failureCondition), stable 0.0166667 → Failed", rs[0].Reason)
	})

	t.Run("no canary series: no data for the canary, stable still read", func(t *testing.T) {
		// Stable never failed: the numerator falls back to 0 as the
		// built-in error rate's does, so stable's share is a real 0; the
		// canary has no requests series at all, so its share is no data.
		zeroed := rollout.CustomMetric{Name: "err_share", FailureCondition: "result >= 0.05",
			Query: `(sum(increase(` + metric + `_count{app="{{app}}",version="{{version}}",code=~"5.."}[{{window}}])) or vector(0))` +
				` / sum(increase(` + metric + `_count{app="{{app}}",version="{{version}}"}[{{window}}]))`}
		s, err := src.Measure(ctx, customMetricsSpec("", "stableonly", zeroed), whole)
		require.ErrorIs(t, err, rollout.ErrNoData)
		share := customOf(t, s, "err_share")
		assert.True(t, valueOf(t, share, "canary").Value.Missing())
		assert.InDelta(t, 0, float64(valueOf(t, share, "stable").Value), eps, "stable's 0 errors are a real 0")
		// Without the fallback, no 5xx series is no data too: never read as 0.
		s, _ = src.Measure(ctx, customMetricsSpec("", "stableonly", metrics[0]), whole)
		assert.True(t, valueOf(t, customOf(t, s, "err_share"), "stable").Value.Missing())
		r := rollout.EvaluateCustom([]rollout.CustomMetric{zeroed}, s)[0]
		assert.Equal(t, rollout.Inconclusive, r.Verdict)
		assert.Contains(t, r.Reason, "canary no data")
	})

	t.Run("a hostile app label value is matched exactly, never run", func(t *testing.T) {
		// Escaped, the value finds its own series (3 and 5 requests an
		// interval); pasted in, it would have ended the string and
		// answered vector(1).
		s, err := src.Measure(ctx, customMetricsSpec("", hostileApp, rollout.CustomMetric{
			Name: "requests", Query: `sum(increase(` + metric + `_count{app="{{app}}",version="{{version}}"}[{{window}}]))`, SuccessCondition: "result > 0",
		}), whole)
		require.NoError(t, err)
		c := customOf(t, s, "requests")
		require.Empty(t, c.Err)
		assert.InDelta(t, 3*intervals, float64(valueOf(t, c, "canary").Value), eps)
		assert.InDelta(t, 5*intervals, float64(valueOf(t, c, "stable").Value), eps)
		assert.Contains(t, valueOf(t, c, "canary").Query, `app="x\"} or vector(1) # \\",version="canary"`)
		assert.False(t, math.IsNaN(float64(s.Canary.RequestRate)), "the built-ins find it too")
	})
}
