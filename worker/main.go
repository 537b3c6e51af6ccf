// Command worker runs canaryflow's CanaryRollout workflow and its activities.
// It connects with the standard TEMPORAL_* environment (address, namespace,
// TLS, API key) and serves every provider kind it has been configured for.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/canaryflow/canaryflow/workflows"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(logger)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], logger)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		logger.Error("worker stopped", "err", err)
		os.Exit(1)
	}
}

// stopTimeout bounds how long a stopping worker waits for activities in flight.
const stopTimeout = 30 * time.Second

func run(ctx context.Context, args []string, logger *slog.Logger) error {
	var cfg config
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	address := fs.String("address", "", "Temporal frontend host:port (default TEMPORAL_ADDRESS or localhost:7233)")
	tns := fs.String("temporal-namespace", "", "Temporal namespace (default TEMPORAL_NAMESPACE or default)")
	cfg.flags(fs)
	var kube kubeConfig
	kube.flags(fs)
	metricsAddr := fs.String("metrics-address", "", "host:port serving /healthz, /readyz and /metrics (the worker chart sets :9464); empty: none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	acts, err := cfg.activities(logger)
	if err != nil {
		return fmt.Errorf("configuring providers: %w", err)
	}
	if err := kube.add(acts, logger); err != nil {
		return fmt.Errorf("configuring the Kubernetes providers: %w", err)
	}
	// One registry for /metrics: the SDK's metrics and canaryflow_* go
	// through the client's metrics handler into it.
	metrics, err := newWorkerMetrics(logger)
	if err != nil {
		return err
	}
	defer metrics.close(context.Background(), logger)
	c, namespace, err := dial(ctx, *address, *tns, metrics.handler)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := checkSearchAttributes(ctx, c, namespace); err != nil {
		return err
	}
	stopSlack, err := startSlackApp(ctx, &cfg, c, logger)
	if err != nil {
		return err
	}
	defer stopSlack()

	// The stop timeout lets activities in flight (a deploy, a weight change)
	// finish on SIGTERM rather than be cut off and retried elsewhere.
	wopts := worker.Options{WorkerStopTimeout: stopTimeout}
	w := worker.New(c, workflows.TaskQueue, wopts)
	w.RegisterWorkflow(workflows.CanaryRollout)
	w.RegisterActivity(acts)
	// Host-bound activities (local processes) come on a queue only this
	// worker polls; see activities.Placement.
	host := worker.New(c, acts.HostQueue, wopts)
	host.RegisterActivity(acts)
	logger.Info("worker serving", "taskQueue", workflows.TaskQueue, "hostQueue", acts.HostQueue, "providers", cfg.describe(acts))
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting worker: %w", err)
	}
	if err := host.Start(); err != nil {
		w.Stop()
		return fmt.Errorf("starting the host queue worker: %w", err)
	}
	hs, err := serveHealth(*metricsAddr, metrics.registry, logger)
	if err != nil {
		host.Stop()
		w.Stop()
		return err
	}
	defer hs.close()
	hs.ready.Store(true)
	<-ctx.Done()
	host.Stop()
	w.Stop()
	if !errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return nil
}
