package router

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backend answers with its name, like a stable or canary deployment would
// with its version.
func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// running is a router serving on real loopback listeners.
type running struct {
	r      *Router
	public string
	admin  string
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start serves cfg in-process until the test ends, and checks that Serve
// shuts down cleanly.
func start(t *testing.T, cfg Config) running {
	t.Helper()
	return startWith(t, cfg, defaultLimits)
}

// startWith is start with other server limits.
func startWith(t *testing.T, cfg Config, limits serverLimits) running {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	r, err := New(cfg)
	require.NoError(t, err)
	r.limits = limits
	public, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, public, admin) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "Serve returns cleanly when cancelled")
		case <-time.After(ShutdownGrace + time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return running{r: r, public: "http://" + public.Addr().String(), admin: "http://" + admin.Addr().String()}
}

func twoBackends(t *testing.T) (stable, canary string) {
	return backend(t, "stable").URL, backend(t, "canary").URL
}

func get(t *testing.T, c *http.Client, url string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func putWeight(t *testing.T, admin, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, admin+"/weight", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestWeightSplit(t *testing.T) {
	stable, canary := twoBackends(t)
	src := rand.New(rand.NewPCG(3, 4))
	rt := start(t, Config{Stable: stable, Canary: canary, Weight: 25, Rand: src.Float64})

	const n = 2000
	counts := map[string]int{}
	for range n {
		code, body := get(t, http.DefaultClient, rt.public+"/api/properties", nil)
		require.Equal(t, http.StatusOK, code)
		counts[body]++
	}
	share := 100 * float64(counts["canary"]) / n
	t.Logf("weight 25: %d canary, %d stable (%.1f %%)", counts["canary"], counts["stable"], share)
	// Seeded, so reproducible; ±3 points is three standard deviations at n=2000.
	assert.InDelta(t, 25, share, 3)
	assert.Equal(t, n, counts["canary"]+counts["stable"])

	// Moving the weight through the admin API takes effect at once.
	code, _ := putWeight(t, rt.admin, `{"weight":100}`)
	require.Equal(t, http.StatusOK, code)
	for range 50 {
		_, body := get(t, http.DefaultClient, rt.public+"/", nil)
		require.Equal(t, "canary", body)
	}
	code, _ = putWeight(t, rt.admin, `{"weight":0}`)
	require.Equal(t, http.StatusOK, code)
	for range 50 {
		_, body := get(t, http.DefaultClient, rt.public+"/", nil)
		require.Equal(t, "stable", body)
	}
}

func TestHeaderAndCookieOverride(t *testing.T) {
	stable, canary := twoBackends(t)
	rt := start(t, Config{Stable: stable, Canary: canary})

	_, body := get(t, http.DefaultClient, rt.public+"/health", map[string]string{"X-Canary": "always"})
	assert.Equal(t, "canary", body, "header reaches the canary at weight 0 (smoke tests rely on it)")
	_, body = get(t, http.DefaultClient, rt.public+"/health", map[string]string{"Cookie": "canary=always"})
	assert.Equal(t, "canary", body)
	_, body = get(t, http.DefaultClient, rt.public+"/health", map[string]string{"X-Canary": "never", "Cookie": "canary=always"})
	assert.Equal(t, "stable", body, "header beats cookie")

	require.NoError(t, rt.r.SetWeight(100))
	_, body = get(t, http.DefaultClient, rt.public+"/health", map[string]string{"X-Canary": "never"})
	assert.Equal(t, "stable", body)
	_, body = get(t, http.DefaultClient, rt.public+"/health", nil)
	assert.Equal(t, "canary", body)
}

func TestCustomHeaderName(t *testing.T) {
	stable, canary := twoBackends(t)
	rt := start(t, Config{Stable: stable, Canary: canary, Header: "X-Beta", Cookie: "beta"})
	_, body := get(t, http.DefaultClient, rt.public+"/", map[string]string{"X-Beta": "always"})
	assert.Equal(t, "canary", body)
	_, body = get(t, http.DefaultClient, rt.public+"/", map[string]string{"Cookie": "beta=always"})
	assert.Equal(t, "canary", body)
	_, body = get(t, http.DefaultClient, rt.public+"/", map[string]string{"X-Canary": "always"})
	assert.Equal(t, "stable", body)
}

func TestAdminWeightAPI(t *testing.T) {
	stable, canary := twoBackends(t)
	maxWeight := 50
	rt := start(t, Config{Stable: stable, Canary: canary, Weight: 10, MaxWeight: &maxWeight})

	code, body := get(t, http.DefaultClient, rt.admin+"/weight", nil)
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"weight":10}`, body)

	for range 2 { // setting the same weight twice is fine
		code, body = putWeight(t, rt.admin, `{"weight":25}`)
		assert.Equal(t, http.StatusOK, code)
		assert.JSONEq(t, `{"weight":25}`, body)
	}
	_, body = get(t, http.DefaultClient, rt.admin+"/weight", nil)
	assert.JSONEq(t, `{"weight":25}`, body)

	code, body = putWeight(t, rt.admin, `{"weight":0}`)
	assert.Equal(t, http.StatusOK, code, "zero is a weight, not a missing field")
	assert.JSONEq(t, `{"weight":0}`, body)

	bad := map[string]string{
		"not JSON":      `weight=30`,
		"wrong type":    `{"weight":"30"}`,
		"fraction":      `{"weight":2.5}`,
		"missing field": `{}`,
		"unknown field": `{"weight":30,"canary":true}`,
		"two objects":   `{"weight":30}{"weight":40}`,
		"negative":      `{"weight":-1}`,
		"above 100":     `{"weight":101}`,
		"empty":         ``,
	}
	for name, in := range bad {
		code, body = putWeight(t, rt.admin, in)
		assert.Equal(t, http.StatusBadRequest, code, name)
		var e ErrorBody
		require.NoError(t, json.Unmarshal([]byte(body), &e), name)
		assert.NotEmpty(t, e.Error, name)
	}

	code, body = putWeight(t, rt.admin, `{"weight":60}`)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.JSONEq(t, `{"error":"weight 60 is above this router's max weight 50"}`, body)
	_, body = get(t, http.DefaultClient, rt.admin+"/weight", nil)
	assert.JSONEq(t, `{"weight":0}`, body, "a refused or bad weight leaves the weight alone")

	code, body = get(t, http.DefaultClient, rt.admin+"/healthz", nil)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)

	resp, err := http.Post(rt.admin+"/weight", "application/json", strings.NewReader(`{"weight":5}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestMetricsOnAdminListenerOnly(t *testing.T) {
	stable, canary := twoBackends(t)
	rt := start(t, Config{Stable: stable, Canary: canary})

	get(t, http.DefaultClient, rt.public+"/api/users", nil)
	get(t, http.DefaultClient, rt.public+"/api/users", map[string]string{"X-Canary": "always"})
	get(t, http.DefaultClient, rt.public+"/some/raw/path", map[string]string{"X-Canary": "always"})

	code, body := get(t, http.DefaultClient, rt.admin+"/metrics", nil)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `http_requests_total{code="200",method="GET",route="/api/users",version="stable"} 1`)
	assert.Contains(t, body, `http_requests_total{code="200",method="GET",route="/api/users",version="canary"} 1`)
	assert.Contains(t, body, `http_requests_total{code="200",method="GET",route="other",version="canary"} 1`)
	assert.Contains(t, body, `http_request_duration_seconds_bucket{code="200",method="GET",route="/api/users",version="canary",le="2"} 1`)
	assert.Contains(t, body, `http_requests_in_flight{version="stable"} 0`)
	assert.Contains(t, body, "go_goroutines")
	assert.NotContains(t, body, "/some/raw/path")

	// /metrics on the public listener is the backend's, proxied like any path.
	_, body = get(t, http.DefaultClient, rt.public+"/metrics", nil)
	assert.Equal(t, "stable", body)
}

func TestCanaryDownIs502(t *testing.T) {
	stableSrv := backend(t, "stable")
	canarySrv := backend(t, "canary")
	canaryURL := canarySrv.URL
	canarySrv.Close()
	rt := start(t, Config{Stable: stableSrv.URL, Canary: canaryURL, Weight: 100})

	code, _ := get(t, http.DefaultClient, rt.public+"/api/properties", nil)
	assert.Equal(t, http.StatusBadGateway, code)
	code, _ = get(t, http.DefaultClient, rt.public+"/api/properties", map[string]string{"X-Canary": "never"})
	assert.Equal(t, http.StatusOK, code, "stable still serves")

	_, body := get(t, http.DefaultClient, rt.admin+"/metrics", nil)
	assert.Contains(t, body, `http_requests_total{code="502",method="GET",route="/api/properties",version="canary"} 1`)
}

func TestStickyRouting(t *testing.T) {
	stable, canary := twoBackends(t)
	src := rand.New(rand.NewPCG(9, 9))
	rt := start(t, Config{Stable: stable, Canary: canary, Weight: 50, Sticky: true, Rand: src.Float64})

	seen := map[string]bool{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		user := &http.Client{Jar: jar}
		_, first := get(t, user, rt.public+"/", nil)
		seen[first] = true
		for range 20 {
			_, again := get(t, user, rt.public+"/", nil)
			require.Equal(t, first, again, "a user keeps landing on %s", first)
		}
	}
	assert.Len(t, seen, 2, "users landed on both versions")
}

func TestNewRejectsBadConfig(t *testing.T) {
	stable, canary := "http://127.0.0.1:1", "http://127.0.0.1:2"
	over, under := 101, -1
	low := 20
	cases := map[string]Config{
		"no stable":         {Canary: canary},
		"no canary":         {Stable: stable},
		"not a URL scheme":  {Stable: "127.0.0.1:1", Canary: canary},
		"ftp":               {Stable: stable, Canary: "ftp://host/"},
		"max above 100":     {Stable: stable, Canary: canary, MaxWeight: &over},
		"max negative":      {Stable: stable, Canary: canary, MaxWeight: &under},
		"weight negative":   {Stable: stable, Canary: canary, Weight: -1},
		"weight above max":  {Stable: stable, Canary: canary, Weight: 30, MaxWeight: &low},
		"bad route pattern": {Stable: stable, Canary: canary, Routes: []string{"GET /{x"}},
	}
	for name, cfg := range cases {
		cfg.Logger = quietLogger()
		_, err := New(cfg)
		assert.Error(t, err, name)
	}
}

func TestSetWeightErrors(t *testing.T) {
	zero := 0
	r, err := New(Config{Stable: "http://127.0.0.1:1", Canary: "http://127.0.0.1:2", MaxWeight: &zero, Logger: quietLogger()})
	require.NoError(t, err)
	assert.ErrorIs(t, r.SetWeight(101), ErrWeightRange)
	assert.ErrorIs(t, r.SetWeight(1), ErrWeightRefused, "a max weight of 0 refuses any canary traffic")
	assert.NoError(t, r.SetWeight(0))
}
