package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// handover replaces a live process with a new version without a gap: the
// new one starts on the same address (the demo app binds with SO_REUSEPORT),
// and only once it answers /health with the new version is the old one
// stopped, draining its in-flight requests. If the new one never comes up,
// it is stopped and the old one keeps serving: a failed upgrade changes nothing.
// While both run, the one not serving the role is recorded as a stray, so a
// crash at any step leaves state that names both (see crash.go).
func (d *Deployer) handover(ctx context.Context, k, addr string, old state, args []string, rel rollout.Release, log *slog.Logger) error {
	next, h, err := d.start(args, filepath.Join(d.cfg.LogDir, k+".log"))
	if err != nil {
		return err
	}
	defer h.cancel()
	if err := d.at(crashAfterStart); err != nil {
		return err
	}
	next.Version, next.Role, next.Addr, next.Args = rel.Version, old.Role, addr, args
	old.Strays = []state{next}
	if err := d.save(k, old); err != nil {
		return err // next, unrecorded, exits when cancel closes its pipe
	}
	if err := d.at(crashAfterRecord); err != nil {
		return err
	}
	if err := h.release(); err != nil {
		return d.abandon(ctx, k, old, next, fmt.Errorf("replacing %s %s with %s: %w", old.Role, old.Version, rel.Version, err))
	}
	if err := d.at(crashAfterRelease); err != nil {
		return err
	}
	log.Info("starting next to the previous process", "pid", next.PID, "previous", old.PID, "was", old.Version)

	// Fresh connections, so the kernel spreads probes over both listeners.
	probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(d.cfg.StartGrace)
	for {
		if rep, err := healthOf(ctx, probe, addr); err == nil && rep.Version == rel.Version {
			break
		}
		if !alive(next) || time.Now().After(deadline) || ctx.Err() != nil {
			return d.abandon(ctx, k, old, next, fmt.Errorf("replacing %s %s with %s: the new process did not answer /health on %s within %s (see %s)",
				old.Role, old.Version, rel.Version, addr, d.cfg.StartGrace, next.Log))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := d.at(crashAfterHealthy); err != nil {
		return err
	}
	old.Strays = nil
	next.Strays = []state{old}
	if err := d.save(k, next); err != nil {
		return d.abandon(ctx, k, old, next, err)
	}
	if err := d.at(crashAfterSwap); err != nil {
		return err
	}
	if err := d.stop(ctx, old); err != nil {
		return fmt.Errorf("stopping %s %s after handing over to %s: %w", old.Role, old.Version, rel.Version, err)
	}
	if err := d.at(crashAfterStopPrevious); err != nil {
		return err
	}
	next.Strays = nil
	if err := d.save(k, next); err != nil {
		return fmt.Errorf("recording the handover to %s: %w", rel.Version, err)
	}
	log.Info("handed over", "pid", next.PID, "stopped", old.PID)
	return nil
}

// abandon stops next and records old alone again, so a failed upgrade
// leaves the role as it was; whatever it cannot undo, the next call settles.
func (d *Deployer) abandon(ctx context.Context, k string, old, next state, cause error) error {
	ctx = context.WithoutCancel(ctx)
	if err := d.stop(ctx, next); err != nil {
		return errors.Join(cause, err)
	}
	old.Strays = nil
	return errors.Join(cause, d.save(k, old))
}
