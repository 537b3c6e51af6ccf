package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunKeepsSteadyRate(t *testing.T) {
	var hits, users atomic.Int64
	var canaryHeader atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/api/users" {
			users.Add(1)
		}
		canaryHeader.Store(r.Header.Get("X-Canary"))
		w.Header().Set(VersionHeader, "v2")
		if hits.Load()%10 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`[]`))
	}))
	t.Cleanup(srv.Close)

	g, err := New(Config{Target: srv.URL, RPS: 100, Headers: map[string]string{"X-Canary": "always"}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()

	done := make(chan Stats)
	go func() { done <- g.Run(ctx) }()
	time.Sleep(time.Second)
	mid := g.Snapshot()
	assert.Greater(t, mid.Sent, int64(50), "snapshot while running: %s", mid)
	st := <-done

	t.Logf("final: %s", st)
	assert.InDelta(t, 100, st.Rate(), 10, "achieved rate")
	assert.InDelta(t, 200, st.Sent, 20)
	assert.Equal(t, st.Sent, st.OK+st.Errors, "every sent request is finished")
	assert.Equal(t, hits.Load(), st.Sent)
	assert.InDelta(t, st.Sent/2, users.Load(), 1, "paths spread round-robin")
	assert.Equal(t, st.Sent, st.ByVersion["v2"])
	assert.Equal(t, st.Errors, st.ByStatus[http.StatusInternalServerError])
	assert.InDelta(t, 0.1, st.ErrorRate(), 0.01)
	assert.Equal(t, "always", canaryHeader.Load())
	assert.NoError(t, st.Check())
	assert.Zero(t, st.Skipped)
}

func TestRunSkipsWhenConcurrencyBoundReached(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	g, err := New(Config{Target: srv.URL, RPS: 200, Concurrency: 2, Paths: []string{"/slow"}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	go func() {
		<-ctx.Done()
		release <- struct{}{}
		release <- struct{}{}
	}()
	st := g.Run(ctx)
	assert.Equal(t, int64(2), st.Sent, "only the bound is in flight: %s", st)
	assert.Greater(t, st.Skipped, int64(20))
	assert.Equal(t, int64(2), st.ByVersion[UnknownVersion])
}

func TestRunCountsTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	target := srv.URL
	srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	st := Run(ctx, Config{Target: target, RPS: 50})
	require.Positive(t, st.Sent)
	assert.Equal(t, st.Sent, st.TransportErrors)
	assert.Equal(t, st.Sent, st.Errors)
	assert.ErrorIs(t, st.Check(), ErrNoTraffic)
}

func TestNewValidates(t *testing.T) {
	for name, cfg := range map[string]Config{
		"rate":   {Target: "http://x", RPS: 0},
		"target": {Target: "x:80", RPS: 1},
		"path":   {Target: "http://x", RPS: 1, Paths: []string{"api"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg)
			assert.Error(t, err)
		})
	}
	assert.Zero(t, Run(t.Context(), Config{}).Sent)
}

func TestObserveSeesEveryAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(VersionHeader, "v2")
		if r.URL.Path == "/api/users" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	var seen, failed atomic.Int64
	start := time.Now()
	g, err := New(Config{Target: srv.URL, RPS: 50, Observe: func(a Answer) {
		seen.Add(1)
		if a.Status == http.StatusInternalServerError {
			failed.Add(1)
		}
		assert.Equal(t, "v2", a.Version)
		assert.False(t, a.At.Before(start), "answers arrive after the run began")
		assert.Positive(t, a.Latency)
	}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	st := g.Run(ctx)
	assert.Equal(t, st.OK+st.Errors, seen.Load(), "one observation per answer")
	assert.Equal(t, st.Errors, failed.Load())
}
