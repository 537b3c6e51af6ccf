// Package app is the demo service canaryflow rolls out: a small real-estate
// API whose faults (errors, latency, memory) can be set at start or at run
// time, so that a demo or a test can make a canary fail on purpose and watch
// canaryflow roll it back. The binary in demo/cmd/demoapp is a thin wrapper.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/canaryflow/canaryflow/middleware"
)

// VersionHeader names the release that answered, on every response, so a
// load generator behind a router can count which version served it.
const VersionHeader = "X-App-Version"

// ShutdownGrace bounds how long in-flight requests may take after SIGTERM.
const ShutdownGrace = 10 * time.Second

// Routes are the app's endpoints; they bound the metrics' route label.
var Routes = []string{"/health", "/api/properties", "/api/users", "/metrics", "/admin/faults"}

// Server limits: a slow or stuck client is cut off instead of holding a
// connection forever. The write timeout leaves room for the longest
// latency fault (MaxLatency, plus its jitter).
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 2 * MaxLatency
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
)

// serverLimits are the limits above, in a value tests can shorten.
type serverLimits struct {
	readHeader, read, write, idle time.Duration
	maxHeaderBytes                int
}

var defaultLimits = serverLimits{readHeader: ReadHeaderTimeout, read: ReadTimeout, write: WriteTimeout, idle: IdleTimeout, maxHeaderBytes: MaxHeaderBytes}

// server is the app's http.Server for h with the limits l.
func (l serverLimits) server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeaderBytes,
	}
}

// Config describes one running copy of the app.
type Config struct {
	// Version is the release, such as v2; /health and X-App-Version report it.
	Version string
	// Role is stable or canary and becomes the metrics' version label, which
	// is what canary analysis compares.
	Role string
	// Faults are the faults at start.
	Faults Faults
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// App is the demo service with its fault state and metrics registry.
type App struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler

	mu      sync.Mutex
	faults  Faults
	ballast []byte
	limits  serverLimits
}

// New checks cfg, allocates the starting memory ballast and builds the handler.
func New(cfg Config) (*App, error) {
	if cfg.Version == "" {
		return nil, errors.New("version must be set, such as v1")
	}
	if cfg.Role != middleware.VersionStable && cfg.Role != middleware.VersionCanary {
		return nil, fmt.Errorf("role must be %s or %s, got %q", middleware.VersionStable, middleware.VersionCanary, cfg.Role)
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	a := &App{cfg: cfg, log: cfg.Logger, limits: defaultLimits}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("version", cfg.Version, "role", cfg.Role)

	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("registering Go collector: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("registering process collector: %w", err)
	}
	metrics, err := middleware.NewMetrics(reg, middleware.MetricsOptions{Routes: Routes})
	if err != nil {
		return nil, fmt.Errorf("creating request metrics: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", a.health)
	mux.Handle("GET /api/properties", a.api(properties))
	mux.Handle("GET /api/users", a.api(users))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /admin/faults", a.getFaults)
	mux.HandleFunc("PUT /admin/faults", a.putFaults)

	inner := metrics.Handler(middleware.FixedVersion(cfg.Role), mux)
	a.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(VersionHeader, cfg.Version)
		inner.ServeHTTP(w, r)
	})
	a.setFaults(cfg.Faults)
	return a, nil
}

// Handler serves every endpoint; tests mount it on httptest servers.
func (a *App) Handler() http.Handler { return a.handler }

// Faults returns the faults in force.
func (a *App) Faults() Faults {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.faults
}

// SetFaults validates f and puts it in force, resizing the ballast.
func (a *App) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	a.setFaults(f)
	return nil
}

func (a *App) setFaults(f Faults) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f.MemoryMB != len(a.ballast)>>20 {
		a.ballast = nil
		// Return the old ballast's pages first, so shrinking shows in RSS
		// and growing does not briefly hold both.
		debug.FreeOSMemory()
		a.ballast = makeBallast(f.MemoryMB)
	}
	a.faults = f
	a.log.Info("faults set", "errorRate", f.ErrorRate, "latency", f.Latency, "memoryMB", f.MemoryMB)
}

// makeBallast allocates mb MiB and writes one byte per page: fresh pages
// from the OS are not resident until touched, and RSS is what is measured.
func makeBallast(mb int) []byte {
	if mb <= 0 {
		return nil
	}
	b := make([]byte, mb<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}

// ListenAndServe serves on addr until ctx is done, then shuts down gracefully.
func (a *App) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := listen(ctx, addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return a.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then lets in-flight requests finish
// (up to ShutdownGrace) so a stopped canary does not show up as errors.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := a.limits.server(a.handler)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "grace", ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	}
	return nil
}

func (a *App) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": a.cfg.Version, "role": a.cfg.Role})
}

// api serves payload after the injected latency, or an injected 500.
func (a *App) api(payload any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := a.Faults()
		if f.Latency > 0 {
			d := f.Latency + rand.N(f.Latency/10+1)
			t := time.NewTimer(d)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "injected fault"})
			return
		}
		writeJSON(w, http.StatusOK, payload)
	})
}

func (a *App) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Faults())
}

func (a *App) putFaults(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("reading body: %v", err)})
		return
	}
	f, err := a.Faults().apply(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	a.setFaults(f)
	writeJSON(w, http.StatusOK, f)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("writing response", "err", err)
	}
}
