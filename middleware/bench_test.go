package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Figures before the allocation work (issue 10), median of -count 5 on the
// 2-core development VM, for comparison with what these benchmarks print:
//
//	BenchmarkBare           4 ns/op     0 B/op    0 allocs/op
//	BenchmarkSplit        327 ns/op   368 B/op    2 allocs/op
//	BenchmarkSplitSticky  933 ns/op   777 B/op    4 allocs/op
//	BenchmarkMetrics     1128 ns/op    40 B/op    2 allocs/op
//	BenchmarkSplitMetrics 1315 ns/op  408 B/op    4 allocs/op
//	BenchmarkFeatureFlag   44 ns/op     0 B/op    0 allocs/op
//
// Each benchmark also reports, besides ns/op:
//
//	bare-ns/op      the bare handler alone, timed right after on the same
//	                writer and request
//	overhead-ns/op  ns/op minus bare-ns/op: what the middleware adds
//	cpu-ns/op       process CPU time per operation (getrusage, where the
//	                platform has it), which other processes on a shared
//	                machine inflate far less than wall-clock ns/op

// discardWriter is a reusable ResponseWriter, so the benchmarks measure the
// middleware rather than httptest.ResponseRecorder's allocations.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

var okBody = []byte("ok")

var bare = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(okBody) })

func runBench(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		h.ServeHTTP(w, r)
		// A server gives every response a fresh header; without this the
		// sticky benchmark would grow one Set-Cookie list without bound.
		if len(w.h) > 0 {
			clear(w.h)
		}
	}
	cpu = processCPU() - cpu
	n := b.N
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(n)
	start := time.Now()
	for range n {
		bare.ServeHTTP(w, r)
		if len(w.h) > 0 {
			clear(w.h)
		}
	}
	bareNs := float64(time.Since(start).Nanoseconds()) / float64(n)
	b.ReportMetric(bareNs, "bare-ns/op")
	b.ReportMetric(perOp-bareNs, "overhead-ns/op")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

// benchRequest is a request for a wildcard route, with no inner ServeMux to
// label it, so the metrics do their own route matching.
func benchRequest() *http.Request { return httptest.NewRequest(http.MethodGet, "/api/users/42", nil) }

func benchMetrics(b *testing.B) *Metrics {
	b.Helper()
	m, err := NewMetrics(prometheus.NewRegistry(), MetricsOptions{Routes: testRoutes})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkBare is the baseline the others are compared with.
func BenchmarkBare(b *testing.B) { runBench(b, bare, benchRequest()) }

// BenchmarkSplit is the splitter at 25 % with the default random source,
// recording its choice in the request context (one allocation).
func BenchmarkSplit(b *testing.B) {
	s := NewSplitter(SplitConfig{Weight: 25})
	runBench(b, s.Handler(bare, bare), benchRequest())
}

// BenchmarkSplitNoContext is the splitter that does not record its choice.
func BenchmarkSplitNoContext(b *testing.B) {
	s := NewSplitter(SplitConfig{Weight: 25, NoContext: true})
	runBench(b, s.Handler(bare, bare), benchRequest())
}

// BenchmarkSplitSticky adds the Set-Cookie a first visit gets.
func BenchmarkSplitSticky(b *testing.B) {
	s := NewSplitter(SplitConfig{Weight: 25, Sticky: true})
	runBench(b, s.Handler(bare, bare), benchRequest())
}

// BenchmarkSplitCookie is a returning visitor: several cookies, the sticky
// one last, so the splitter scans the header to find it.
func BenchmarkSplitCookie(b *testing.B) {
	s := NewSplitter(SplitConfig{Weight: 25, Sticky: true, NoContext: true})
	r := benchRequest()
	r.Header.Set("Cookie", "session=3f9a1c0e7b; theme=dark; _ga=GA1.2.123456789.1700000000; canary=always")
	runBench(b, s.Handler(bare, bare), r)
}

// BenchmarkMetrics is request metrics on a route with a wildcard.
func BenchmarkMetrics(b *testing.B) {
	runBench(b, benchMetrics(b).Handler(FixedVersion(VersionStable), bare), benchRequest())
}

// BenchmarkSplitMetrics is each backend wrapped in metrics, inside a
// splitter that records its choice in the context.
func BenchmarkSplitMetrics(b *testing.B) {
	m := benchMetrics(b)
	s := NewSplitter(SplitConfig{Weight: 25})
	runBench(b, s.Handler(m.Handler(FixedVersion(VersionStable), bare), m.Handler(FixedVersion(VersionCanary), bare)), benchRequest())
}

// BenchmarkSplitMetricsNoContext is the composition the demo router needs:
// each backend wrapped in metrics with FixedVersion, so nothing behind the
// splitter reads the context. This is the path that allocates nothing.
func BenchmarkSplitMetricsNoContext(b *testing.B) {
	m := benchMetrics(b)
	s := NewSplitter(SplitConfig{Weight: 25, NoContext: true})
	runBench(b, s.Handler(m.Handler(FixedVersion(VersionStable), bare), m.Handler(FixedVersion(VersionCanary), bare)), benchRequest())
}

// BenchmarkSplitMetricsParallel is the allocation-free composition from
// every P at once, where shared locks or cache lines would show.
func BenchmarkSplitMetricsParallel(b *testing.B) {
	m := benchMetrics(b)
	s := NewSplitter(SplitConfig{Weight: 25, NoContext: true})
	h := s.Handler(m.Handler(FixedVersion(VersionStable), bare), m.Handler(FixedVersion(VersionCanary), bare))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		r := benchRequest()
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkFeatureFlag is a percentage flag keyed by a header.
func BenchmarkFeatureFlag(b *testing.B) {
	h := FeatureFlag("new-search", FlagConfig{Percent: 30, UserKey: func(r *http.Request) string { return r.RemoteAddr }}, bare, bare)
	runBench(b, h, benchRequest())
}
