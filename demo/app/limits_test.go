package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerHasTimeouts(t *testing.T) {
	srv := defaultLimits.server(http.NotFoundHandler())
	assert.Equal(t, ReadHeaderTimeout, srv.ReadHeaderTimeout)
	assert.Equal(t, ReadTimeout, srv.ReadTimeout)
	assert.Equal(t, IdleTimeout, srv.IdleTimeout)
	assert.Equal(t, MaxHeaderBytes, srv.MaxHeaderBytes)
	assert.Greater(t, srv.WriteTimeout, MaxLatency+MaxLatency/10, "the slowest latency fault, with its jitter, is still answered")
	assert.ErrorContains(t, Faults{Latency: MaxLatency + time.Millisecond}.Validate(), "latency must be between 0 and 30s")
	assert.NoError(t, Faults{Latency: MaxLatency}.Validate())
}

// TestServeCutsOffSlowAndIdleClients runs Serve with short limits: a client
// that never finishes its request, an idle connection and an answer later
// than the write timeout are all dropped.
func TestServeCutsOffSlowAndIdleClients(t *testing.T) {
	a, err := New(Config{Version: "v1", Role: "stable", Faults: Faults{Latency: time.Second}})
	require.NoError(t, err)
	a.limits = serverLimits{readHeader: 300 * time.Millisecond, read: 300 * time.Millisecond, write: 300 * time.Millisecond,
		idle: 300 * time.Millisecond, maxHeaderBytes: 4 << 10}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })

	for name, req := range map[string]string{
		"headers never finished": "GET /health HTTP/1.1\r\nHost: x\r\n",
		"body never finished":    "PUT /admin/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"err",
		"idle after an answer":   "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			_, err = io.WriteString(conn, req)
			require.NoError(t, err)
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
			_, err = io.ReadAll(conn)
			assert.NoError(t, err, "the server closed the connection (a timeout means it did not)")
		})
	}
	t.Run("an answer later than the write timeout", func(t *testing.T) {
		resp, err := http.Get("http://" + ln.Addr().String() + "/api/users")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
		}
		assert.Error(t, err)
	})
}
