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

// Serve runs the public handler on public and the admin handler on admin
// until ctx is cancelled or either server fails, then shuts both down. The
// caller opens the listeners so tests can use port 0 and read the address.
func (r *Router) Serve(ctx context.Context, public, admin net.Listener) error {
	servers := []*http.Server{
		{Handler: r.Handler(), ReadHeaderTimeout: 10 * time.Second},
		{Handler: r.AdminHandler(), ReadHeaderTimeout: 10 * time.Second},
	}
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
