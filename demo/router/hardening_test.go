package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppAdminIsNotProxied: the apps' fault-injection API must not be
// reachable through the public listener, however the path is spelled.
func TestAppAdminIsNotProxied(t *testing.T) {
	var hits atomic.Int64
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "backend")
	}))
	t.Cleanup(b.Close)
	rt := start(t, Config{Stable: b.URL, Canary: b.URL, Weight: 50})

	for _, p := range []string{"/admin", "/admin/", "/admin/faults", "//admin/faults", "/./admin/faults",
		"/api/../admin/faults", "/%61dmin/faults", "/admin%2Ffaults"} {
		for _, method := range []string{http.MethodGet, http.MethodPut} {
			conn, err := net.Dial("tcp", rt.public[len("http://"):])
			require.NoError(t, err)
			// Raw, so the client does not clean the path first.
			_, err = io.WriteString(conn, method+" "+p+" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			_ = resp.Body.Close()
			_ = conn.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", method, p)
		}
	}
	assert.Zero(t, hits.Load(), "no admin request reached a backend")

	for _, p := range []string{"/api/users", "/administrators", "/api/admin"} {
		code, body := get(t, http.DefaultClient, rt.public+p, nil)
		assert.Equal(t, http.StatusOK, code, p)
		assert.Equal(t, "backend", body, p)
	}
}

func TestServersHaveTimeouts(t *testing.T) {
	l := defaultLimits
	for _, srv := range []*http.Server{l.server(http.NotFoundHandler(), l.publicWrite), l.server(http.NotFoundHandler(), l.adminWrite)} {
		assert.Equal(t, ReadHeaderTimeout, srv.ReadHeaderTimeout)
		assert.Equal(t, ReadTimeout, srv.ReadTimeout)
		assert.Positive(t, srv.WriteTimeout)
		assert.Equal(t, IdleTimeout, srv.IdleTimeout)
		assert.Equal(t, MaxHeaderBytes, srv.MaxHeaderBytes)
	}
	assert.Greater(t, PublicWriteTimeout, 30*time.Second, "room for the app's slowest latency fault")
}

// short are limits a test can wait out.
var short = serverLimits{readHeader: 300 * time.Millisecond, read: 300 * time.Millisecond, publicWrite: 300 * time.Millisecond,
	adminWrite: 300 * time.Millisecond, idle: 300 * time.Millisecond, maxHeaderBytes: 4 << 10}

// closedWithin reads conn until the server closes it, failing if that
// takes longer than d.
func closedWithin(t *testing.T, conn net.Conn, d time.Duration) string {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(d)))
	got, err := io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %s", d)
	}
	return string(got)
}

// TestSlowOrIdleClientsAreCutOff: Serve's listeners drop a client that
// sends slowly, a connection left idle, and an answer that cannot be written
// in time, instead of holding them forever.
func TestSlowOrIdleClientsAreCutOff(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/slow" {
			time.Sleep(time.Second)
		}
		_, _ = io.WriteString(w, "answer")
	}))
	t.Cleanup(slow.Close)
	rt := startWith(t, Config{Stable: slow.URL, Canary: slow.URL}, short)
	dial := func(url string) net.Conn {
		conn, err := net.Dial("tcp", url[len("http://"):])
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}

	for _, addr := range []string{rt.public, rt.admin} {
		t.Run("headers never finished "+addr, func(t *testing.T) {
			conn := dial(addr)
			_, _ = io.WriteString(conn, "GET /weight HTTP/1.1\r\nHost: x\r\n")
			closedWithin(t, conn, 3*time.Second)
		})
		t.Run("body never finished "+addr, func(t *testing.T) {
			conn := dial(addr)
			_, _ = io.WriteString(conn, "PUT /weight HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"wei")
			closedWithin(t, conn, 3*time.Second)
		})
		t.Run("idle connection "+addr, func(t *testing.T) {
			conn := dial(addr)
			_, _ = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			got := closedWithin(t, conn, 3*time.Second)
			assert.Contains(t, got, "HTTP/1.1 ", "answered, then closed when idle")
		})
	}
	t.Run("an answer later than the write timeout", func(t *testing.T) {
		resp, err := http.Get(rt.public + "/api/slow")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
		}
		assert.Error(t, err, "the connection was cut instead of waiting for the backend")
	})
}
