package middleware

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testRoutes = []string{"/api/properties", "GET /api/users/{id}", "/health"}

// app is a small application: its own ServeMux with a failing route.
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/properties", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("[]"))
	})
	mux.HandleFunc("GET /api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {})
	return mux
}

func newTestMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Routes: testRoutes})
	require.NoError(t, err)
	return m, reg
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestMetricLabels(t *testing.T) {
	m, reg := newTestMetrics(t)
	h := m.Handler(FixedVersion(VersionCanary), app())

	assert.Equal(t, 200, serve(h, http.MethodGet, "/api/properties").Code)
	assert.Equal(t, 200, serve(h, http.MethodGet, "/api/properties").Code)
	assert.Equal(t, 503, serve(h, http.MethodGet, "/api/users/42").Code)
	assert.Equal(t, 503, serve(h, http.MethodGet, "/api/users/43").Code, "both ids share one route label")
	assert.Equal(t, 200, serve(h, http.MethodHead, "/health").Code)
	assert.Equal(t, 404, serve(h, http.MethodGet, "/wp-admin/secret?x=1").Code)
	assert.Equal(t, http.StatusTemporaryRedirect, serve(h, http.MethodGet, "/api/../wp-login").Code, "a redirect's target path is not a route")
	assert.Equal(t, 404, serve(h, http.MethodGet, "/api/properties/123").Code)
	assert.Equal(t, 405, serve(h, http.MethodPost, "/api/users/42").Code)
	assert.Equal(t, 200, serve(h, "BREW", "/api/properties").Code)

	want := `
# HELP http_requests_total HTTP requests served, by version, method, route and status code.
# TYPE http_requests_total counter
http_requests_total{code="200",method="GET",route="/api/properties",version="canary"} 2
http_requests_total{code="200",method="HEAD",route="/health",version="canary"} 1
http_requests_total{code="200",method="other",route="/api/properties",version="canary"} 1
http_requests_total{code="307",method="GET",route="other",version="canary"} 1
http_requests_total{code="404",method="GET",route="other",version="canary"} 2
http_requests_total{code="405",method="POST",route="other",version="canary"} 1
http_requests_total{code="503",method="GET",route="GET /api/users/{id}",version="canary"} 2
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), MetricRequests))

	// The histogram has one series per counter series, with the same labels.
	n, err := testutil.GatherAndCount(reg, MetricDuration)
	require.NoError(t, err)
	assert.Equal(t, 7, n)
	assert.Equal(t, 2, histogramCount(t, reg, map[string]string{
		"version": "canary", "method": "GET", "route": "GET /api/users/{id}", "code": "503",
	}))
}

// histogramCount returns the sample count of the duration series with labels.
func histogramCount(t *testing.T, reg prometheus.Gatherer, labels map[string]string) int {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != MetricDuration {
			continue
		}
	next:
		for _, metric := range f.GetMetric() {
			got := map[string]string{}
			for _, lp := range metric.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return int(metric.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

func TestMetricsRouteWithoutInnerMux(t *testing.T) {
	m, reg := newTestMetrics(t)
	// A plain handler (no ServeMux inside) is still labelled by the known
	// patterns, and wildcards never leak the raw path.
	h := m.Handler(FixedVersion(VersionStable), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	serve(h, http.MethodGet, "/api/users/7")
	serve(h, http.MethodGet, "/api/users/8")
	serve(h, http.MethodDelete, "/api/users/8")
	serve(h, http.MethodGet, "/unknown/path")

	want := `
# HELP http_requests_total HTTP requests served, by version, method, route and status code.
# TYPE http_requests_total counter
http_requests_total{code="200",method="DELETE",route="other",version="stable"} 1
http_requests_total{code="200",method="GET",route="GET /api/users/{id}",version="stable"} 2
http_requests_total{code="200",method="GET",route="other",version="stable"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), MetricRequests))
}

func TestMetricsInFlight(t *testing.T) {
	m, _ := newTestMetrics(t)
	entered, release := make(chan struct{}), make(chan struct{})
	h := m.Handler(FixedVersion(VersionCanary), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(h, http.MethodGet, "/health")
	}()
	<-entered
	assert.Equal(t, 1.0, testutil.ToFloat64(m.inFlight.WithLabelValues(VersionCanary)))
	assert.Equal(t, 0.0, testutil.ToFloat64(m.inFlight.WithLabelValues(VersionStable)))
	close(release)
	<-done
	assert.Equal(t, 0.0, testutil.ToFloat64(m.inFlight.WithLabelValues(VersionCanary)))
}

func TestMetricsPanicCountsAsServerError(t *testing.T) {
	m, _ := newTestMetrics(t)
	h := m.Handler(FixedVersion(VersionCanary), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	}))
	assert.Panics(t, func() { serve(h, http.MethodGet, "/health") }, "the panic still reaches net/http")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues(VersionCanary, "GET", "/health", "500")))
	assert.Equal(t, 0.0, testutil.ToFloat64(m.inFlight.WithLabelValues(VersionCanary)))
}

func TestMetricsVersionFromSplitter(t *testing.T) {
	m, reg := newTestMetrics(t)
	s := NewSplitter(SplitConfig{Weight: 0})
	// Each backend is wrapped inside the splitter, so its version is known.
	h := s.Handler(m.Handler(VersionOf, app()), m.Handler(VersionOf, app()))
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/health", nil)
	r.Header.Set("X-Canary", "always")
	h.ServeHTTP(rec, r)
	serve(h, http.MethodGet, "/health")
	serve(m.Handler(VersionOf, app()), http.MethodGet, "/health")
	serve(m.Handler(nil, app()), http.MethodGet, "/health")

	want := `
# HELP http_requests_total HTTP requests served, by version, method, route and status code.
# TYPE http_requests_total counter
http_requests_total{code="200",method="GET",route="/health",version="canary"} 1
http_requests_total{code="200",method="GET",route="/health",version="stable"} 1
http_requests_total{code="200",method="GET",route="/health",version="unknown"} 2
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), MetricRequests))
}

func TestMetricsNoRoutesIsAllOther(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{})
	require.NoError(t, err)
	serve(m.Handler(FixedVersion(VersionStable), app()), http.MethodGet, "/api/properties")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues(VersionStable, "GET", "other", "200")))
}

func TestNewMetricsErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := NewMetrics(reg, MetricsOptions{Routes: []string{"/a", "/a"}})
	require.NoError(t, err, "a repeated route is harmless")

	_, err = NewMetrics(reg, MetricsOptions{})
	require.Error(t, err, "registering twice on one registry")
	assert.Contains(t, err.Error(), "registering request metrics")

	_, err = NewMetrics(prometheus.NewRegistry(), MetricsOptions{Routes: []string{"GET /x/{bad"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `route pattern "GET /x/{bad"`)

	_, err = NewMetrics(prometheus.NewRegistry(), MetricsOptions{Routes: []string{"/x/{id}", "/x/{name}"}})
	require.Error(t, err, "conflicting patterns are refused, not panicked on")
}

func TestMetricsCustomBuckets(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, MetricsOptions{Buckets: []float64{0.1, 1}})
	require.NoError(t, err)
	serve(m.Handler(FixedVersion(VersionStable), app()), http.MethodGet, "/health")
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == MetricDuration {
			assert.Len(t, f.GetMetric()[0].GetHistogram().GetBucket(), 2)
			return
		}
	}
	t.Fatal("no duration histogram gathered")
}

func TestStatusWriterKeepsFlushing(t *testing.T) {
	m, _ := newTestMetrics(t)
	h := m.Handler(FixedVersion(VersionStable), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints) // informational, not the final status
		_, ok := w.(http.Flusher)
		assert.True(t, ok)
		require.NoError(t, http.NewResponseController(w).Flush())
		w.WriteHeader(http.StatusAccepted)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	assert.True(t, rec.Flushed)
	// Flushing before a status means 200 was sent, as net/http does.
	assert.Equal(t, 1.0, testutil.ToFloat64(m.requests.WithLabelValues(VersionStable, "GET", "/health", "200")))
}

func TestLabelHelpers(t *testing.T) {
	assert.Equal(t, "PATCH", methodLabel("PATCH"))
	assert.Equal(t, "other", methodLabel("get"))
	assert.Equal(t, "other", methodLabel("PROPFIND"))
	assert.Equal(t, "200", codeLabel(200))
	assert.Equal(t, "503", codeLabel(503))
	assert.Equal(t, "799", codeLabel(799))
}
