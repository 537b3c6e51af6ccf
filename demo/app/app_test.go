package app

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newServer(t *testing.T, cfg Config) (*App, *httptest.Server) {
	t.Helper()
	if cfg.Version == "" {
		cfg.Version = "v2"
	}
	if cfg.Role == "" {
		cfg.Role = "canary"
	}
	a, err := New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return a, srv
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func put(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, out
}

func TestHealthReportsVersionAndRole(t *testing.T) {
	_, srv := newServer(t, Config{Version: "v7", Role: "stable"})
	resp, body := get(t, srv.URL+"/health")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "v7", resp.Header.Get(VersionHeader))
	assert.JSONEq(t, `{"status":"ok","version":"v7","role":"stable"}`, string(body))
}

func TestAPIServesRecords(t *testing.T) {
	_, srv := newServer(t, Config{})
	resp, body := get(t, srv.URL+"/api/properties")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var props []Property
	require.NoError(t, json.Unmarshal(body, &props))
	assert.Len(t, props, len(properties))
	assert.Equal(t, "v2", resp.Header.Get(VersionHeader))

	resp, body = get(t, srv.URL+"/api/users")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var us []User
	require.NoError(t, json.Unmarshal(body, &us))
	assert.NotEmpty(t, us)
}

func TestErrorRateFault(t *testing.T) {
	_, srv := newServer(t, Config{})
	resp, _ := put(t, srv.URL+"/admin/faults", `{"errorRate":0.25}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	const n = 400
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		path := "/api/properties"
		if i%2 == 1 {
			path = "/api/users"
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			resp, err := http.Get(srv.URL + path)
			if !assert.NoError(t, err) {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, n, codes[200]+codes[500], "only 200 and 500: %v", codes)
	// 400 draws at p=0.25 have a standard deviation of 0.022; 0.08 is > 3.5σ.
	assert.InDelta(t, 0.25, float64(codes[500])/n, 0.08, "codes %v", codes)

	resp, _ = get(t, srv.URL+"/health")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "health is not subject to faults")
}

func TestLatencyFault(t *testing.T) {
	a, srv := newServer(t, Config{})
	require.NoError(t, a.SetFaults(Faults{Latency: 80 * time.Millisecond}))
	for range 3 {
		start := time.Now()
		resp, _ := get(t, srv.URL+"/api/users")
		took := time.Since(start)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.GreaterOrEqual(t, took, 80*time.Millisecond)
		assert.Less(t, took, 2*time.Second)
	}
}

func TestAdminFaultsValidation(t *testing.T) {
	_, srv := newServer(t, Config{Faults: Faults{ErrorRate: 0.2, Latency: 150 * time.Millisecond}})
	resp, body := get(t, srv.URL+"/admin/faults")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"errorRate":0.2,"latency":"150ms","memoryMB":0}`, string(body))

	for _, tc := range []struct{ body, field string }{
		{`{"errorRate":1.5}`, "errorRate"},
		{`{"errorRate":-0.1}`, "errorRate"},
		{`{"latency":"-5ms"}`, "latency"},
		{`{"latency":"soon"}`, "latency"},
		{`{"memoryMB":5000}`, "memoryMB"},
		{`{"memoryMB":-1}`, "memoryMB"},
		{`not json`, "JSON"},
	} {
		resp, body := put(t, srv.URL+"/admin/faults", tc.body)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, tc.body)
		assert.Contains(t, string(body), tc.field, tc.body)
	}
	resp, body = get(t, srv.URL+"/admin/faults")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"errorRate":0.2,"latency":"150ms","memoryMB":0}`, string(body), "rejected PUTs change nothing")

	resp, body = put(t, srv.URL+"/admin/faults", `{"latency":"0s"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"errorRate":0.2,"latency":"0s","memoryMB":0}`, string(body), "a PUT keeps the fields it omits")
}

func TestMetricsCarryVersionLabelAndProcessMetrics(t *testing.T) {
	_, srv := newServer(t, Config{Role: "canary"})
	for range 3 {
		get(t, srv.URL+"/api/properties")
	}
	resp, body := get(t, srv.URL+"/metrics")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err)

	dur := fams["http_request_duration_seconds"]
	require.NotNil(t, dur, "request histogram exported")
	var count uint64
	for _, m := range dur.GetMetric() {
		labels := labelMap(m)
		assert.Equal(t, "canary", labels["version"])
		if labels["route"] == "/api/properties" {
			count += m.GetHistogram().GetSampleCount()
		}
	}
	assert.Equal(t, uint64(3), count)
	rss := fams["process_resident_memory_bytes"]
	require.NotNil(t, rss, "process collector registered")
	assert.Positive(t, rss.GetMetric()[0].GetGauge().GetValue())
	assert.NotNil(t, fams["go_goroutines"], "Go collector registered")
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestMemoryBallastRaisesRSS(t *testing.T) {
	a, _ := newServer(t, Config{})
	before := rssBytes(t)
	require.NoError(t, a.SetFaults(Faults{MemoryMB: 64}))
	grown := rssBytes(t)
	assert.Greater(t, grown-before, int64(50<<20), "RSS %d -> %d", before, grown)
	require.NoError(t, a.SetFaults(Faults{}))
	assert.Less(t, rssBytes(t), grown-int64(40<<20), "ballast released")
}

// rssBytes reads this process's resident set from /proc, the same source
// the process collector uses.
func rssBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	require.NoError(t, err)
	fields := strings.Fields(string(b))
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	require.NoError(t, err)
	return pages * int64(os.Getpagesize())
}

func TestServeShutsDownGracefully(t *testing.T) {
	a, err := New(Config{Version: "v1", Role: "stable", Faults: Faults{Latency: 300 * time.Millisecond}})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()

	got := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/api/users")
		if err != nil {
			got <- -1
			return
		}
		_ = resp.Body.Close()
		got <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	assert.Equal(t, http.StatusOK, <-got, "the in-flight request finishes")
	assert.NoError(t, <-served)
	_, err = net.Dial("tcp", ln.Addr().String())
	assert.Error(t, err, "listener closed")
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{Version: "v1", Role: "blue"})
	assert.ErrorContains(t, err, "role")
	_, err = New(Config{Role: "stable"})
	assert.ErrorContains(t, err, "version")
	_, err = New(Config{Version: "v1", Role: "stable", Faults: Faults{ErrorRate: 2}})
	assert.ErrorContains(t, err, "errorRate")
}
