package middleware

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type traceKey struct{}

// TestVersionContextBehavesLikeWithValue: handlers behind the splitter see
// the version, every value and the cancellation of the context the request
// came with, also through contexts they derive.
func TestVersionContextBehavesLikeWithValue(t *testing.T) {
	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), traceKey{}, "trace-1"))
	r := httptest.NewRequestWithContext(parent, http.MethodGet, "/", nil)
	r.Header.Set("X-Canary", "always")

	var seen context.Context
	s := NewSplitter(SplitConfig{Weight: 0})
	s.Handler(bare, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.Context() })).
		ServeHTTP(httptest.NewRecorder(), r)
	require.NotNil(t, seen)

	derived, stop := context.WithTimeout(seen, time.Hour)
	defer stop()
	for _, ctx := range []context.Context{seen, derived} {
		v, ok := VersionFrom(ctx)
		assert.True(t, ok)
		assert.Equal(t, VersionCanary, v)
		assert.Equal(t, "trace-1", ctx.Value(traceKey{}))
	}
	_, ok := VersionFrom(r.Context())
	assert.False(t, ok, "the caller's request is not modified")
	assert.Contains(t, seen.(interface{ String() string }).String(), "canary")

	boom := errors.New("client went away")
	cancel(boom)
	select {
	case <-derived.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the request's context did not reach a context derived behind the splitter")
	}
	assert.ErrorIs(t, seen.Err(), context.Canceled)
	assert.ErrorIs(t, context.Cause(derived), boom)
}

// TestNoContext: routing, forcing and stickiness are unchanged; only the
// recorded choice is absent, so FeatureFlag's canary rule does not apply.
func TestNoContext(t *testing.T) {
	s := NewSplitter(SplitConfig{Weight: 50, Sticky: true, NoContext: true})
	flagged := FeatureFlag("f", FlagConfig{}, versionEcho("on"), versionEcho("off"))
	h := s.Handler(versionEcho(VersionStable), flagged)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request("always", ""))
	assert.Equal(t, "on  false", rec.Body.String(), "forced by header, flag forced by the same header, no version recorded")

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, request("", "never"))
	assert.Equal(t, "stable  false", rec.Body.String())

	landed := map[string]bool{}
	for i := 0; i < 200 && len(landed) < 2; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, request("", ""))
		require.Len(t, rec.Result().Cookies(), 1, "stickiness does not depend on the context")
		landed[rec.Result().Cookies()[0].Value] = true
	}
	assert.Equal(t, map[string]bool{"always": true, "never": true}, landed)
}

// TestStickyCookieRenderedOnce: the pre-rendered Set-Cookie is byte for byte
// what http.SetCookie writes, and a cookie name http.SetCookie would drop is
// dropped too.
func TestStickyCookieRenderedOnce(t *testing.T) {
	for _, maxAge := range []time.Duration{0, time.Hour} {
		s := NewSplitter(SplitConfig{Weight: 50, Sticky: true, StickyMaxAge: maxAge, Cookie: "beta"})
		for _, force := range []string{ForceAlways, ForceNever} {
			version := VersionStable
			if force == ForceAlways {
				version = VersionCanary
			}
			got := httptest.NewRecorder()
			s.setSticky(got, version)

			want := httptest.NewRecorder()
			http.SetCookie(want, &http.Cookie{
				Name: "beta", Value: force, Path: "/", MaxAge: int(maxAge / time.Second),
				HttpOnly: true, SameSite: http.SameSiteLaxMode,
			})
			assert.Equal(t, want.Header()["Set-Cookie"], got.Header()["Set-Cookie"])
		}
	}

	s := NewSplitter(SplitConfig{Weight: 50, Sticky: true, Cookie: "bad name"})
	rec := httptest.NewRecorder()
	s.Handler(bare, bare).ServeHTTP(rec, request("", ""))
	assert.Empty(t, rec.Header()["Set-Cookie"], "an invalid cookie name is not sent")
}
