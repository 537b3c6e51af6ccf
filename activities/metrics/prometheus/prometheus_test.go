package prometheus_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/activities"
	promsource "github.com/canaryflow/canaryflow/activities/metrics/prometheus"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
)

var _ activities.MetricsSource = (*promsource.Source)(nil)

const (
	metric = "http_request_duration_seconds"
	window = 5 * time.Second
	// weirdRoute has series, so matching it proves quoting round-trips exactly.
	weirdRoute = `quote" back\slash {x="y"}`
	// injection has no series: escaped, it must match nothing and not parse as PromQL.
	injection = `"} or vector(1) #`
)

// traffic is one steady stream of observations: rate per second, every
// errEvery-th a 500, latencies cycling through latency(n % 100).
type traffic struct {
	version, route string
	rate           float64
	errEvery       int
	latency        func(i int) float64
}

// run observes at exactly rate per second on average, however late the
// ticker fires on a busy machine, until ctx is done.
func (tr traffic) run(ctx context.Context, h *prometheus.HistogramVec) {
	start, n := time.Now(), 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		due := int(time.Since(start).Seconds() * tr.rate)
		for ; n < due; n++ {
			code := "200"
			if tr.errEvery > 0 && n%tr.errEvery == 0 {
				code = "500"
			}
			h.WithLabelValues(tr.version, "GET", tr.route, code).Observe(tr.latency(n % 100))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Stable: 100 req/s, 1 % errors, latencies 10–59.5 ms (true p95 ≈ 57 ms).
// Canary: 20 req/s, 20 % errors, latencies 200–1190 ms (true p95 ≈ 1.15 s).
var (
	stableLatency = func(i int) float64 { return 0.010 + float64(i)*0.0005 }
	canaryLatency = func(i int) float64 { return 0.200 + float64(i)*0.010 }
)

func spec(address string, labels map[string]string) rollout.Spec {
	return rollout.Spec{Metrics: rollout.Metrics{Kind: "prometheus", Prometheus: &rollout.PrometheusMetrics{
		Address: address, Metric: metric, Labels: labels,
	}}}
}

// TestAgainstRealPrometheus drives known traffic into a histogram, lets a
// real Prometheus scrape it every second, and checks every figure and error
// outcome of the source against the truth.
func TestAgainstRealPrometheus(t *testing.T) {
	reg := prometheus.NewRegistry()
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: metric, Help: "Request duration.",
		// ~19 % wide buckets: histogram_quantile interpolates within one, so
		// that is the accuracy of p95 the test can demand.
		Buckets: prometheus.ExponentialBucketsRange(0.005, 5, 40),
	}, []string{"version", "method", "route", "code"})
	// Series that exist without a version label, and a summary with no
	// buckets, for Check's two other complaints.
	unversioned := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "unversioned_seconds", Help: "No version."}, []string{"route"})
	summary := prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: "summary_seconds", Help: "Not a histogram."}, []string{"version"})
	reg.MustRegister(hist, unversioned, summary)
	unversioned.WithLabelValues("/").Observe(0.1)
	summary.WithLabelValues("stable").Observe(0.1)
	// One canary request long before the window: the series exists, traffic is zero.
	hist.WithLabelValues("canary", "GET", "/idle", "200").Observe(0.1)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, tr := range []traffic{
		{version: "stable", route: "/api/properties", rate: 100, errEvery: 100, latency: stableLatency},
		{version: "canary", route: "/api/properties", rate: 20, errEvery: 5, latency: canaryLatency},
		{version: "stable", route: "/legacy", rate: 10, latency: stableLatency},
		{version: "stable", route: weirdRoute, rate: 10, latency: stableLatency},
		{version: "canary", route: weirdRoute, rate: 10, latency: stableLatency},
	} {
		wg.Go(func() { tr.run(ctx, hist) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	app := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(app.Close)

	prom := testenv.PrometheusWith(t, devstack.PrometheusOptions{
		Jobs:      map[string][]string{"shop": {strings.TrimPrefix(app.URL, "http://")}},
		JobLabels: map[string]map[string]string{"shop": {"app": "shop"}},
	})
	src := promsource.New(prom.URL())
	// Wait for the first scrape, then for a full window of 1 s scrapes.
	require.Eventually(t, func() bool {
		return src.Check(context.Background(), spec("", map[string]string{"app": "shop"})) == nil
	}, 15*time.Second, 100*time.Millisecond, "prometheus never scraped the app; log:\n%s", prom.LogTail())
	time.Sleep(window + 1500*time.Millisecond)
	ctx = context.Background()

	t.Run("measures rates, error rates and latencies", func(t *testing.T) {
		// The spec's address wins over the constructor's (closed) default.
		other := promsource.New(closedAddress(t))
		s, err := other.Measure(ctx, spec(prom.URL(), map[string]string{"app": "shop", "route": "/api/properties"}), window)
		require.NoError(t, err)
		t.Logf("stable %+v", s.Stable)
		t.Logf("canary %+v", s.Canary)

		// Rates: rate() over 1 s scrapes of a steady stream, ±15 %.
		assert.InEpsilon(t, 100, float64(s.Stable.RequestRate), 0.15)
		assert.InEpsilon(t, 20, float64(s.Canary.RequestRate), 0.15)
		// Error shares: ±0.5 point for stable's 1 %, ±3 points for canary's 20 %
		// (a window holds a whole number of failed requests).
		assert.InDelta(t, 0.01, float64(s.Stable.ErrorRate), 0.005)
		assert.InDelta(t, 0.20, float64(s.Canary.ErrorRate), 0.03)
		// Quantiles: within the ~19 % bucket holding the true value, ±25 %.
		assert.InEpsilon(t, 0.057, float64(s.Stable.P95), 0.25)
		assert.InEpsilon(t, 1.15, float64(s.Canary.P95), 0.25)
		assert.InEpsilon(t, 0.059, float64(s.Stable.P99), 0.25)
		assert.InEpsilon(t, 1.19, float64(s.Canary.P99), 0.25)

		require.Len(t, s.Queries, 14)
		// The window's counts are the same series over the same window:
		// rate() is increase() divided by the range.
		require.NotNil(t, s.Window)
		assert.Equal(t, rollout.Duration(window), s.Window.Span)
		assert.InEpsilon(t, float64(s.Canary.RequestRate)*window.Seconds(), s.Window.Canary.Requests, 1e-9)
		assert.InEpsilon(t, float64(s.Stable.RequestRate)*window.Seconds(), s.Window.Stable.Requests, 1e-9)
		assert.InEpsilon(t, float64(s.Canary.ErrorRate)*s.Window.Canary.Requests, s.Window.Canary.Errors, 1e-9)
		require.Len(t, s.Window.Canary.Buckets, 41, "40 bounds and +Inf")
		last := s.Window.Canary.Buckets[40]
		assert.True(t, math.IsInf(float64(last.LE), 1))
		assert.InEpsilon(t, s.Window.Canary.Requests, last.Count, 1e-9)
		for _, k := range []string{"requests", "errors", "buckets"} {
			assert.Contains(t, s.Queries["canary."+k], `version="canary",app="shop",route="/api/properties"`)
			assert.Contains(t, s.Queries["stable."+k], `version="stable",app="shop",route="/api/properties"`)
		}
		for _, k := range []string{"requestRate", "errorRate", "p95", "p99"} {
			assert.Contains(t, s.Queries["canary."+k], `version="canary",app="shop",route="/api/properties"`)
			assert.Contains(t, s.Queries["stable."+k], `version="stable",app="shop",route="/api/properties"`)
			assert.Contains(t, s.Queries["canary."+k], "[5s]")
		}
		// Under the reference thresholds this canary fails (20 % errors, p95 > 1.5 × stable).
		v, reasons := rollout.Evaluate(rollout.Spec{}.WithDefaults().Analysis.Thresholds, s)
		assert.Equal(t, rollout.Failed, v, reasons)
	})

	t.Run("a canary with no errors has error rate 0, not no data", func(t *testing.T) {
		s, err := src.Measure(ctx, spec("", map[string]string{"route": weirdRoute}), window)
		require.NoError(t, err)
		assert.InEpsilon(t, 10, float64(s.Canary.RequestRate), 0.15)
		assert.Equal(t, 0.0, float64(s.Canary.ErrorRate))
		// The weird label value matched its series exactly, quotes and all.
		assert.Contains(t, s.Queries["canary.requestRate"], strconv.Quote(weirdRoute))
	})

	t.Run("zero canary traffic: rate 0, error rate NaN, no error", func(t *testing.T) {
		s, err := src.Measure(ctx, spec("", map[string]string{"route": "/idle"}), window)
		require.NoError(t, err)
		assert.Equal(t, 0.0, float64(s.Canary.RequestRate))
		assert.True(t, s.Canary.ErrorRate.Missing())
		assert.True(t, s.Canary.P95.Missing())
		v, _ := rollout.Evaluate(rollout.Spec{}.WithDefaults().Analysis.Thresholds, s)
		assert.Equal(t, rollout.Inconclusive, v)
	})

	t.Run("no canary series: ErrNoData with the partial sample", func(t *testing.T) {
		s, err := src.Measure(ctx, spec("", map[string]string{"route": "/legacy"}), window)
		require.ErrorIs(t, err, rollout.ErrNoData)
		assert.False(t, errors.Is(err, rollout.ErrQueryFailed), err)
		assert.True(t, s.Canary.RequestRate.Missing())
		assert.InEpsilon(t, 10, float64(s.Stable.RequestRate), 0.15)
		assert.Len(t, s.Queries, 14)
		require.NotNil(t, s.Window, "the counts measured come back too")
		assert.Zero(t, s.Window.Canary.Requests)
		assert.InEpsilon(t, 10*window.Seconds(), s.Window.Stable.Requests, 0.15)
	})

	t.Run("a label value cannot inject PromQL", func(t *testing.T) {
		sp := spec("", map[string]string{"route": injection})
		s, err := src.Measure(ctx, sp, window)
		// Injected, `or vector(1)` would give 1 req/s or a parse error (ErrQueryFailed).
		require.ErrorIs(t, err, rollout.ErrNoData)
		assert.False(t, errors.Is(err, rollout.ErrQueryFailed), err)
		assert.True(t, s.Canary.RequestRate.Missing())
		assert.True(t, s.Stable.RequestRate.Missing())
		assert.Contains(t, s.Queries["canary.requestRate"], `route="\"} or vector(1) #"`)
		require.ErrorIs(t, src.Check(ctx, sp), rollout.ErrUnknownMetric)
	})

	t.Run("check accepts the histogram", func(t *testing.T) {
		require.NoError(t, src.Check(ctx, spec("", map[string]string{"app": "shop", "route": "/api/properties"})))
		// A spec that skipped WithDefaults gets the default metric.
		require.NoError(t, src.Check(ctx, rollout.Spec{Metrics: rollout.Metrics{Kind: "prometheus"}}))
	})

	t.Run("check names an unknown metric and its labels", func(t *testing.T) {
		sp := spec("", map[string]string{"app": "shop"})
		sp.Metrics.Prometheus.Metric = "no_such_duration_seconds"
		err := src.Check(ctx, sp)
		require.ErrorIs(t, err, rollout.ErrUnknownMetric)
		assert.Contains(t, err.Error(), "no_such_duration_seconds")
		assert.Contains(t, err.Error(), `app="shop"`)
	})

	t.Run("check wants a version label", func(t *testing.T) {
		sp := spec("", nil)
		sp.Metrics.Prometheus.Metric = "unversioned_seconds"
		err := src.Check(ctx, sp)
		require.ErrorIs(t, err, rollout.ErrUnknownMetric)
		assert.Contains(t, err.Error(), "version")
	})

	t.Run("check wants a histogram", func(t *testing.T) {
		sp := spec("", nil)
		sp.Metrics.Prometheus.Metric = "summary_seconds"
		err := src.Check(ctx, sp)
		require.ErrorIs(t, err, rollout.ErrUnknownMetric)
		assert.Contains(t, err.Error(), "histogram")
	})
}

func TestUnreachablePrometheusIsQueryFailed(t *testing.T) {
	notProm := httptest.NewServer(http.NotFoundHandler())
	defer notProm.Close()
	for name, addr := range map[string]string{
		"closed port, no scheme": closedAddress(t),
		"not a prometheus":       notProm.URL,
	} {
		t.Run(name, func(t *testing.T) {
			src := promsource.New(addr, promsource.WithQueryTimeout(3*time.Second))
			s, err := src.Measure(context.Background(), spec("", nil), time.Minute)
			require.ErrorIs(t, err, rollout.ErrQueryFailed)
			assert.False(t, errors.Is(err, rollout.ErrNoData))
			assert.True(t, s.Canary.RequestRate.Missing())
			assert.True(t, math.IsNaN(float64(s.Stable.P95)))
			assert.Len(t, s.Queries, 14, "queries are reported even when they fail")
			assert.Nil(t, s.Window, "no counts where none could be read")

			err = src.Check(context.Background(), spec("", nil))
			require.ErrorIs(t, err, rollout.ErrQueryFailed)
			assert.False(t, errors.Is(err, rollout.ErrUnknownMetric))
		})
	}
}

func TestNoAddressIsPermanent(t *testing.T) {
	err := promsource.New("").Check(context.Background(), spec("", nil))
	require.ErrorIs(t, err, rollout.ErrQueryFailed)
	require.ErrorIs(t, err, rollout.ErrPermanent)
}

// closedAddress is host:port where nothing listens.
func closedAddress(t *testing.T) string {
	t.Helper()
	port, err := devstack.FreePort()
	require.NoError(t, err)
	return "127.0.0.1:" + strconv.Itoa(port)
}
