//go:build !race

// The race detector's sync.Pool drops pooled objects at random, so
// allocation counts mean nothing under -race: this file is built without it.

package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allocsPerRequest is the average number of allocations h makes serving r,
// with a writer that, like a server's, gives each response a fresh header.
func allocsPerRequest(h http.Handler, r *http.Request) float64 {
	w := &discardWriter{h: http.Header{}}
	return testing.AllocsPerRun(2000, func() {
		h.ServeHTTP(w, r)
		clear(w.h)
	})
}

// TestHotPathAllocations pins the allocation counts: they are part of the
// contract (issue 10), and a regression here is a bug even when it is fast.
func TestHotPathAllocations(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry(), MetricsOptions{Routes: testRoutes})
	require.NoError(t, err)
	get := func(target string) *http.Request { return httptest.NewRequest(http.MethodGet, target, nil) }
	withCookie := func(r *http.Request, v string) *http.Request {
		r.Header.Set("Cookie", "session=abc; theme=dark; canary="+v)
		return r
	}
	noCtx := NewSplitter(SplitConfig{Weight: 25, NoContext: true})
	sticky := NewSplitter(SplitConfig{Weight: 25, NoContext: true, Sticky: true})
	withCtx := NewSplitter(SplitConfig{Weight: 25})
	metered := func(s *Splitter, next http.Handler) http.Handler {
		return s.Handler(m.Handler(FixedVersion(VersionStable), next), m.Handler(FixedVersion(VersionCanary), next))
	}
	inner := http.NewServeMux()
	inner.Handle("/api/properties", bare)
	inner.Handle("/health", bare)

	cases := []struct {
		name string
		h    http.Handler
		r    *http.Request
		want float64
	}{
		{"split + metrics (router composition)", metered(noCtx, bare), get("/api/users/42"), 0},
		{"split + metrics, forced by header", metered(noCtx, bare), func() *http.Request {
			r := get("/api/users/42")
			r.Header.Set("X-Canary", "always")
			return r
		}(), 0},
		{"split + metrics, returning sticky visitor", metered(sticky, bare), withCookie(get("/api/users/42"), "never"), 0},
		{"metrics, wildcard route", m.Handler(FixedVersion(VersionStable), bare), get("/api/users/42"), 0},
		{"metrics, unknown route", m.Handler(FixedVersion(VersionStable), bare), get("/wp-admin/x.php"), 0},
		{"metrics, error status", m.Handler(FixedVersion(VersionCanary), codeHandler(503)), get("/health"), 0},
		{"metrics, extra version label", m.Handler(FixedVersion("blue"), bare), get("/health"), 0},
		{"metrics, version from a splitter", withCtx.Handler(m.Handler(VersionOf, bare), m.Handler(VersionOf, bare)), get("/health"), 1},
		{"metrics, nil version func", m.Handler(nil, bare), get("/health"), 0},
		{"feature flag with cookie", FeatureFlag("f", FlagConfig{}, bare, bare), withCookie(get("/"), "always"), 0},
		// Recording the choice in the context needs a request copy; that
		// copy and its context are one allocation.
		{"split recording the context", withCtx.Handler(bare, bare), get("/"), 1},
		// A first visit's Set-Cookie needs a header value slice.
		{"sticky first visit", sticky.Handler(bare, bare), get("/"), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, allocsPerRequest(tc.h, tc.r))
		})
	}

	t.Run("metrics add nothing to an inner ServeMux", func(t *testing.T) {
		r := get("/api/properties")
		assert.Equal(t, allocsPerRequest(inner, r), allocsPerRequest(m.Handler(FixedVersion(VersionStable), inner), r))
	})
}
