package activities

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// fakeApp answers like the demo app with configurable faults.
type fakeApp struct {
	delay  time.Duration
	status int
	rssMB  float64
	noRSS  bool
	hits   atomic.Int64
}

func (f *fakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	switch r.URL.Path {
	case "/health":
		_, _ = fmt.Fprint(w, `{"status":"ok"}`)
	case "/metrics":
		_, _ = fmt.Fprintln(w, "# TYPE go_goroutines gauge\ngo_goroutines 7")
		if !f.noRSS {
			_, _ = fmt.Fprintf(w, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %g\n", f.rssMB*(1<<20))
		}
	default:
		time.Sleep(f.delay)
		if f.status != 0 {
			w.WriteHeader(f.status)
		}
		_, _ = fmt.Fprint(w, `[]`)
	}
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func directSpec(canary, stable string) rollout.Spec {
	return rollout.Spec{App: "shop", Smoke: rollout.Smoke{CanaryURL: canary, StableURL: stable}}
}

func check(t *testing.T, r rollout.SmokeReport, name string) rollout.SmokeCheck {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	require.Failf(t, "check missing", "no check %q in %+v", name, r.Checks)
	return rollout.SmokeCheck{}
}

func TestSmokeAllPass(t *testing.T) {
	canary := &fakeApp{rssMB: 118}
	a := &Activities{}
	r, err := a.SmokeTest(t.Context(), directSpec(serve(t, canary), serve(t, &fakeApp{})))
	require.NoError(t, err)
	assert.True(t, r.Passed(), "failures: %v", r.Failures())
	names := []string{}
	for _, c := range r.Checks {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"health", "response time", "endpoint /api/properties", "endpoint /api/users", "endpoint /metrics", "error rate", "memory"}, names)
	assert.Equal(t, "status 200", check(t, r, "health").Figure)
	assert.Equal(t, "0/20 errors (0.0%)", check(t, r, "error rate").Figure)
	assert.Equal(t, "118 MB of max 512", check(t, r, "memory").Figure)
	assert.Contains(t, check(t, r, "response time").Figure, "max 2)")
	assert.Contains(t, check(t, r, "endpoint /api/users").Figure, "status 200 in ")
	// health + 3 endpoints + metrics + 20 sampled requests.
	assert.Equal(t, int64(25), canary.hits.Load())
}

func TestSmokeCanaryErrorsFailErrorRate(t *testing.T) {
	a := &Activities{}
	r, err := a.SmokeTest(t.Context(), directSpec(serve(t, &fakeApp{status: 500, rssMB: 100}), serve(t, &fakeApp{})))
	require.NoError(t, err, "a failed check is not an activity error")
	assert.False(t, r.Passed())
	er := check(t, r, "error rate")
	assert.False(t, er.Passed)
	// /metrics is one of the three endpoints, so 14 of 20 sampled requests hit the API.
	assert.Equal(t, "14/20 errors (70.0%)", er.Figure)
	assert.Equal(t, "max 5.0%; statuses 6×200, 14×500", er.Detail)
	assert.False(t, check(t, r, "endpoint /api/properties").Passed)
	assert.True(t, check(t, r, "health").Passed)
	assert.True(t, check(t, r, "memory").Passed)
}

func TestSmokeSlowCanaryFailsResponseTime(t *testing.T) {
	a := &Activities{}
	spec := directSpec(serve(t, &fakeApp{delay: 45 * time.Millisecond, rssMB: 100}), serve(t, &fakeApp{delay: 15 * time.Millisecond}))
	spec.Smoke.Endpoints = []string{"/api/properties", "/api/users"}
	r, err := a.SmokeTest(t.Context(), spec)
	require.NoError(t, err)
	rt := check(t, r, "response time")
	assert.False(t, rt.Passed, rt.Figure)
	assert.Regexp(t, `^canary \d+ms vs stable \d+ms \(ratio [23]\.\d, max 2\)$`, rt.Figure)
	assert.True(t, check(t, r, "error rate").Passed)
	assert.Equal(t, []string{"response time: " + rt.Figure + " (" + rt.Detail + ")"}, r.Failures())
}

func TestSmokeBigMemoryFails(t *testing.T) {
	a := &Activities{}
	r, err := a.SmokeTest(t.Context(), directSpec(serve(t, &fakeApp{rssMB: 600}), serve(t, &fakeApp{})))
	require.NoError(t, err)
	m := check(t, r, "memory")
	assert.False(t, m.Passed)
	assert.Equal(t, "600 MB of max 512", m.Figure)
}

func TestSmokeMissingMemoryMetricFails(t *testing.T) {
	a := &Activities{}
	r, err := a.SmokeTest(t.Context(), directSpec(serve(t, &fakeApp{noRSS: true}), serve(t, &fakeApp{})))
	require.NoError(t, err)
	m := check(t, r, "memory")
	assert.False(t, m.Passed)
	assert.Equal(t, "no process_resident_memory_bytes", m.Figure)
	assert.Contains(t, m.Detail, "process collector")
}

func TestSmokeHeaderRouting(t *testing.T) {
	canary, stable := &fakeApp{rssMB: 50}, &fakeApp{}
	var unrouted atomic.Int64
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Route") {
		case "always":
			canary.ServeHTTP(w, r)
		case "never":
			stable.ServeHTTP(w, r)
		default:
			unrouted.Add(1)
			w.WriteHeader(http.StatusTeapot)
		}
	})
	spec := rollout.Spec{App: "shop", Traffic: rollout.Traffic{Header: "X-Route"}, Smoke: rollout.Smoke{BaseURL: serve(t, router) + "/"}}
	r, err := (&Activities{}).SmokeTest(t.Context(), spec)
	require.NoError(t, err)
	assert.True(t, r.Passed(), "failures: %v", r.Failures())
	assert.Equal(t, int64(25), canary.hits.Load())
	assert.Equal(t, int64(20), stable.hits.Load())
	assert.Zero(t, unrouted.Load())
}

func TestSmokeUnreachableCanaryIsAReportNotAnError(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	r, err := (&Activities{}).SmokeTest(t.Context(), directSpec(dead.URL, serve(t, &fakeApp{})))
	require.NoError(t, err)
	for _, c := range r.Checks {
		assert.False(t, c.Passed, c.Name)
	}
	assert.Equal(t, "no answer", check(t, r, "health").Figure)
	assert.Equal(t, "canary did not answer", check(t, r, "response time").Figure)
	assert.Equal(t, "20/20 errors (100.0%)", check(t, r, "error rate").Figure)
}

func TestSmokeSkip(t *testing.T) {
	r, err := (&Activities{}).SmokeTest(t.Context(), rollout.Spec{Smoke: rollout.Smoke{Skip: true}})
	require.NoError(t, err)
	require.Len(t, r.Checks, 1)
	assert.Equal(t, "skipped", r.Checks[0].Name)
	assert.True(t, r.Passed())
}

func TestSmokeCancelledContextIsAnError(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := (&Activities{}).SmokeTest(ctx, directSpec(serve(t, &fakeApp{}), serve(t, &fakeApp{})))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestSmokeLatencyFloor(t *testing.T) {
	fast := []smokeResult{{status: 200, took: 100 * time.Microsecond}}
	slower := []smokeResult{{status: 200, took: 600 * time.Microsecond}}
	c := smokeLatencyCheck(slower, fast, 2)
	assert.True(t, c.Passed, "sub-millisecond differences are noise: %s", c.Figure)
	assert.Equal(t, "canary 0.6ms vs stable 0.1ms (ratio 0.6, max 2)", c.Figure)
}

func TestSmokeErrorRateBoundary(t *testing.T) {
	rs := make([]smokeResult, 20)
	for i := range rs {
		rs[i] = smokeResult{status: 200}
	}
	rs[0].status = 503
	c := smokeErrorRateCheck(rs, 0.05)
	assert.False(t, c.Passed, "5%% is not below 5%%")
	assert.Equal(t, "1/20 errors (5.0%)", c.Figure)
	rs[0].status = 404
	assert.True(t, smokeErrorRateCheck(rs, 0.05).Passed, "only 5xx count")
	assert.True(t, smokeErrorRateCheck(rs, 0).Passed, "no errors passes even a zero budget")
}
