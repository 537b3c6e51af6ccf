// Package testenv gives tests the real servers of internal/devstack with one
// call each: started for the test, stopped by t.Cleanup, and a failure (never
// a skip) when they cannot start, because a test that silently skips its
// server proves nothing.
package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/canaryflow/canaryflow/internal/devstack"
)

// startTimeout bounds a server's start; a cold Temporal on a busy 2-core CI
// machine takes several seconds.
const startTimeout = 90 * time.Second

// Temporal starts a Temporal dev server (in-memory, free ports) for t.
func Temporal(t testing.TB) *devstack.Temporal {
	t.Helper()
	return TemporalWith(t, devstack.TemporalOptions{})
}

// TemporalWith starts a Temporal dev server for t with opts (a zero
// StartTimeout means testenv's, which allows for a busy CI machine).
func TemporalWith(t testing.TB, opts devstack.TemporalOptions) *devstack.Temporal {
	t.Helper()
	if opts.StartTimeout == 0 {
		opts.StartTimeout = startTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	start := time.Now()
	srv, err := devstack.StartTemporal(ctx, opts)
	if err != nil {
		t.Fatalf("testenv: starting the Temporal dev server: %v", err)
	}
	t.Logf("testenv: temporal at %s (UI %s) ready in %s", srv.Address(), srv.UIURL(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { stop(t, "temporal", srv.Stop, srv.LogTail) })
	return srv
}

// Prometheus starts a Prometheus server for t that scrapes jobs (job name →
// host:port targets) every second.
func Prometheus(t testing.TB, jobs map[string][]string) *devstack.Prometheus {
	t.Helper()
	return PrometheusWith(t, devstack.PrometheusOptions{Jobs: jobs})
}

// PrometheusWith starts a Prometheus server for t with full options, for
// tests that need static job labels or rule files.
func PrometheusWith(t testing.TB, opts devstack.PrometheusOptions) *devstack.Prometheus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if opts.StartTimeout == 0 {
		opts.StartTimeout = startTimeout
	}
	start := time.Now()
	srv, err := devstack.StartPrometheus(ctx, opts)
	if err != nil {
		t.Fatalf("testenv: starting Prometheus: %v", err)
	}
	t.Logf("testenv: prometheus at %s ready in %s", srv.URL(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { stop(t, "prometheus", srv.Stop, srv.LogTail) })
	return srv
}

// stop stops a server at cleanup; a server that crashed during the test
// fails it, and a failed test gets the server's last output to debug with.
func stop(t testing.TB, name string, stopFn func() error, tail func() string) {
	t.Helper()
	if err := stopFn(); err != nil {
		t.Errorf("testenv: %v", err)
		return
	}
	if t.Failed() {
		t.Logf("testenv: last output of %s:\n%s", name, tail())
	}
}
