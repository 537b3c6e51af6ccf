package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// discardWriter is a reusable ResponseWriter, so the benchmarks measure the
// middleware rather than httptest.ResponseRecorder's allocations.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

var okBody = []byte("ok")

var bare = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(okBody) })

func runBench(b *testing.B, h http.Handler) {
	b.Helper()
	w := &discardWriter{h: http.Header{}}
	r := httptest.NewRequest(http.MethodGet, "/api/users/42", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func benchMetrics(b *testing.B) *Metrics {
	b.Helper()
	m, err := NewMetrics(prometheus.NewRegistry(), MetricsOptions{Routes: testRoutes})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkBare is the baseline the others are compared with.
func BenchmarkBare(b *testing.B) { runBench(b, bare) }

// BenchmarkSplit is the splitter at 25 % with the default random source.
func BenchmarkSplit(b *testing.B) {
	s := NewSplitter(SplitConfig{Weight: 25})
	runBench(b, s.Handler(bare, bare))
}

// BenchmarkSplitSticky adds the Set-Cookie a first visit gets.
func BenchmarkSplitSticky(b *testing.B) {
	s := NewSplitter(SplitConfig{Weight: 25, Sticky: true})
	runBench(b, s.Handler(bare, bare))
}

// BenchmarkMetrics is request metrics on a route with a wildcard.
func BenchmarkMetrics(b *testing.B) {
	runBench(b, benchMetrics(b).Handler(FixedVersion(VersionStable), bare))
}

// BenchmarkSplitMetrics is the composition the demo router uses: each
// backend wrapped in metrics, inside the splitter.
func BenchmarkSplitMetrics(b *testing.B) {
	m := benchMetrics(b)
	s := NewSplitter(SplitConfig{Weight: 25})
	runBench(b, s.Handler(m.Handler(FixedVersion(VersionStable), bare), m.Handler(FixedVersion(VersionCanary), bare)))
}

// BenchmarkFeatureFlag is a percentage flag keyed by a header.
func BenchmarkFeatureFlag(b *testing.B) {
	h := FeatureFlag("new-search", FlagConfig{Percent: 30, UserKey: func(r *http.Request) string { return r.RemoteAddr }}, bare, bare)
	runBench(b, h)
}
