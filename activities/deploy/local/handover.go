package local

import (
	"context"
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
func (d *Deployer) handover(ctx context.Context, k, addr string, old state, args []string, rel rollout.Release, log *slog.Logger) error {
	next, err := d.start(args, filepath.Join(d.cfg.LogDir, k+".log"))
	if err != nil {
		return err
	}
	next.Version, next.Role, next.Addr, next.Args = rel.Version, old.Role, addr, args
	log.Info("starting next to the previous process", "pid", next.PID, "previous", old.PID, "was", old.Version)

	// Fresh connections, so the kernel spreads probes over both listeners.
	probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(d.cfg.StartGrace)
	for {
		if h, err := healthOf(ctx, probe, addr); err == nil && h.Version == rel.Version {
			break
		}
		if !alive(next) || time.Now().After(deadline) || ctx.Err() != nil {
			_ = d.stop(context.WithoutCancel(ctx), next)
			return fmt.Errorf("replacing %s %s with %s: the new process did not answer /health on %s within %s (see %s)",
				old.Role, old.Version, rel.Version, addr, d.cfg.StartGrace, next.Log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := d.save(k, next); err != nil {
		_ = d.stop(context.WithoutCancel(ctx), next)
		return err
	}
	if err := d.stop(ctx, old); err != nil {
		return fmt.Errorf("stopping %s %s after handing over to %s: %w", old.Role, old.Version, rel.Version, err)
	}
	log.Info("handed over", "pid", next.PID, "stopped", old.PID)
	return nil
}
