package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// health serves what a Kubernetes Deployment probes and scrapes: /healthz
// (the process answers), /readyz (the workers are polling Temporal) and
// /metrics (the worker's registry: Go runtime and process figures, the
// Temporal SDK's metrics and canaryflow_*, see package telemetry).
type health struct {
	ready atomic.Bool
	srv   *http.Server
	addr  string // where it listens, once listening
}

// serveHealth listens on addr and serves metrics from g; "" serves nothing
// (a worker on a laptop).
func serveHealth(addr string, g prometheus.Gatherer, logger *slog.Logger) (*health, error) {
	h := &health{}
	if addr == "" {
		return h, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !h.ready.Load() {
			http.Error(w, "not polling Temporal yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	// A metric that fails to gather is logged and left out rather than
	// failing the scrape: the rest still tells how the worker is doing.
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for health and metrics on %s: %w", addr, err)
	}
	h.addr = ln.Addr().String()
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	go func() {
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("health server stopped", "err", err)
		}
	}()
	logger.Info("serving health and metrics", "address", ln.Addr().String())
	return h, nil
}

func (h *health) close() {
	if h.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
}
