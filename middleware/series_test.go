package middleware

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPooledWriterDoesNotCarryState: each request's status is its own even
// though the wrapper is reused, and a released wrapper wraps nothing.
func TestPooledWriterDoesNotCarryState(t *testing.T) {
	m, _ := newTestMetrics(t)
	var kept *statusWriter
	h := m.Handler(FixedVersion(VersionStable), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept = w.(*statusWriter)
		if r.URL.Path == "/api/properties" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	for range 3 {
		serve(h, http.MethodGet, "/api/properties")
		assert.Nil(t, kept.ResponseWriter, "a released writer forgets the one it wrapped")
		serve(h, http.MethodGet, "/health")
	}
	assert.Equal(t, 3.0, testutil.ToFloat64(m.requests.WithLabelValues(VersionStable, "GET", "/api/properties", "503")))
	assert.Equal(t, 3.0, testutil.ToFloat64(m.requests.WithLabelValues(VersionStable, "GET", "/health", "200")))
}

// hijackWriter is a ResponseWriter that can be hijacked, as a server's can.
type hijackWriter struct {
	*httptest.ResponseRecorder
	hijacked bool
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return nil, nil, nil
}

// TestStatusWriterUnwrapsForHijack: http.ResponseController finds the
// server's Hijacker through the pooled wrapper (httputil.ReverseProxy
// hijacks for protocol upgrades).
func TestStatusWriterUnwrapsForHijack(t *testing.T) {
	m, _ := newTestMetrics(t)
	w := &hijackWriter{ResponseRecorder: httptest.NewRecorder()}
	h := m.Handler(FixedVersion(VersionStable), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _, err := http.NewResponseController(w).Hijack()
		assert.NoError(t, err)
	}))
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/health", nil))
	assert.True(t, w.hijacked)
}

// TestSeriesCacheUnderConcurrency records many label combinations from many
// goroutines at once (run with -race), so the table grows while it is read,
// and checks every request was counted once under its own labels.
func TestSeriesCacheUnderConcurrency(t *testing.T) {
	m, reg := newTestMetrics(t)
	const perCode = 20
	codes := make([]int, 0, 100)
	for c := 200; c < 300; c++ {
		codes = append(codes, c)
	}
	versions := []string{VersionStable, VersionCanary, "", "blue", "green"}
	var wg sync.WaitGroup
	for _, v := range versions {
		for _, code := range codes {
			wg.Go(func() {
				h := m.Handler(FixedVersion(v), codeHandler(code))
				for range perCode {
					h.ServeHTTP(&discardWriter{h: http.Header{}}, httptest.NewRequest(http.MethodGet, "/api/users/1", nil))
				}
			})
		}
	}
	wg.Wait()
	for _, v := range versions {
		label := v
		if label == "" {
			label = LabelUnknown
		}
		for _, code := range codes {
			got := testutil.ToFloat64(m.requests.WithLabelValues(label, "GET", "GET /api/users/{id}", strconv.Itoa(code)))
			require.Equal(t, float64(perCode), got, "version %q code %d", label, code)
		}
	}
	n, err := testutil.GatherAndCount(reg, MetricDuration)
	require.NoError(t, err)
	assert.Equal(t, len(versions)*len(codes), n, "one histogram series per combination")
}

// TestUncachedSeriesStillCount: combinations outside the cache's key space
// (a status code no real server sends, more version values than are cached)
// are resolved each time and counted all the same.
func TestUncachedSeriesStillCount(t *testing.T) {
	m, _ := newTestMetrics(t)
	odd := m.Handler(FixedVersion(VersionStable), codeHandler(70000))
	for range 2 {
		odd.ServeHTTP(&discardWriter{h: http.Header{}}, httptest.NewRequest(http.MethodGet, "/health", nil))
	}
	assert.Equal(t, 2.0, testutil.ToFloat64(m.requests.WithLabelValues(VersionStable, "GET", "/health", "70000")))

	var i int
	many := m.Handler(func(*http.Request) string { return fmt.Sprint("v", i%(maxExtraVersions+10)) }, bare)
	for i = 0; i < 2*(maxExtraVersions+10); i++ {
		many.ServeHTTP(&discardWriter{h: http.Header{}}, httptest.NewRequest(http.MethodGet, "/health", nil))
	}
	for _, v := range []string{"v0", "v1023", fmt.Sprint("v", maxExtraVersions+9)} {
		assert.Equal(t, 2.0, testutil.ToFloat64(m.requests.WithLabelValues(v, "GET", "/health", "200")), v)
		assert.Equal(t, 0.0, testutil.ToFloat64(m.inFlight.WithLabelValues(v)), v)
	}
}

func TestSeriesIndexGrows(t *testing.T) {
	var x seriesIndex
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c"}, []string{"k"})
	require.NoError(t, reg.Register(c))
	for k := range uint64(1000) {
		s := &series{key: k * 7919, requests: c.WithLabelValues(strconv.FormatUint(k, 10))}
		require.Same(t, s, x.loadOrStore(s))
		require.Same(t, s, x.loadOrStore(&series{key: k * 7919}), "a second store keeps the first")
	}
	for k := range uint64(1000) {
		s := x.load(k * 7919)
		require.NotNil(t, s, "key %d", k)
		assert.Equal(t, k*7919, s.key)
	}
	assert.Nil(t, x.load(1))
	assert.GreaterOrEqual(t, len(x.table.Load().slots), 2000, "kept at most half full")
}

func codeHandler(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) })
}
