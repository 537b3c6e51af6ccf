package main

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHealthAndMetricsAnswerProbes(t *testing.T) {
	m, err := newWorkerMetrics(slog.Default())
	require.NoError(t, err)
	h, err := serveHealth("127.0.0.1:0", m.registry, slog.Default())
	require.NoError(t, err)
	t.Cleanup(h.close)
	addr := h.addr
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := get("/healthz")
	assert.Equal(t, http.StatusOK, code)
	code, _ = get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code, "not ready before the workers poll")
	h.ready.Store(true)
	code, _ = get("/readyz")
	assert.Equal(t, http.StatusOK, code)
	code, body := get("/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "go_goroutines")
}
