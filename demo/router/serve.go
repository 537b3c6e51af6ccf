package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long Serve lets in-flight requests finish after its
// context is cancelled.
const ShutdownGrace = 5 * time.Second

// Server limits. A client that sends its headers or body slowly, or never
// reads the answer, or keeps an idle connection, is cut off instead of
// holding a connection and a goroutine forever. The public write timeout
// leaves room for a backend's slowest answer (demo/app's latency fault is
// at most 30 s); the admin API answers at once.
const (
	ReadHeaderTimeout  = 10 * time.Second
	ReadTimeout        = 30 * time.Second
	PublicWriteTimeout = 60 * time.Second
	AdminWriteTimeout  = 10 * time.Second
	IdleTimeout        = 2 * time.Minute
	MaxHeaderBytes     = 64 << 10
)

// serverLimits are the limits above, in a value tests can shorten.
type serverLimits struct {
	readHeader, read, publicWrite, adminWrite, idle time.Duration
	maxHeaderBytes                                  int
}

var defaultLimits = serverLimits{
	readHeader: ReadHeaderTimeout, read: ReadTimeout, publicWrite: PublicWriteTimeout,
	adminWrite: AdminWriteTimeout, idle: IdleTimeout, maxHeaderBytes: MaxHeaderBytes,
}

// server is an http.Server for h with the limits l and the write timeout given.
func (l serverLimits) server(h http.Handler, writeTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeaderBytes,
	}
}

// Serve runs the public handler on public and the admin handler on admin
// until ctx is cancelled or either server fails, then shuts both down. The
// caller opens the listeners so tests can use port 0 and read the address.
func (r *Router) Serve(ctx context.Context, public, admin net.Listener) error {
	servers := []*http.Server{r.limits.server(r.Handler(), r.limits.publicWrite), r.limits.server(r.AdminHandler(), r.limits.adminWrite)}
	listeners := []net.Listener{public, admin}
	names := []string{"public", "admin"}

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		r.log.Info("router listening", "listener", names[i], "addr", listeners[i].Addr().String())
		go func() {
			if err := srv.Serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serving %s listener on %s: %w", names[i], listeners[i].Addr(), err)
				return
			}
			errc <- nil
		}()
	}

	var first error
	received := 0
	select {
	case <-ctx.Done():
	case first = <-errc:
		received++
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownGrace)
	defer cancel()
	var errs []error
	if first != nil {
		errs = append(errs, first)
	}
	for i, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("shutting down %s listener: %w", names[i], err))
		}
	}
	for range len(servers) - received {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	r.log.Info("router stopped")
	return errors.Join(errs...)
}
