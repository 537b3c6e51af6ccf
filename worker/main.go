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

	"go.temporal.io/sdk/worker"

	"github.com/canaryflow/canaryflow/control"
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

func run(ctx context.Context, args []string, logger *slog.Logger) error {
	var cfg config
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	address := fs.String("address", "", "Temporal frontend host:port (default TEMPORAL_ADDRESS or localhost:7233)")
	tns := fs.String("temporal-namespace", "", "Temporal namespace (default TEMPORAL_NAMESPACE or default)")
	cfg.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	acts, err := cfg.activities(logger)
	if err != nil {
		return fmt.Errorf("configuring providers: %w", err)
	}
	c, err := control.Dial(ctx, *address, *tns)
	if err != nil {
		return err
	}
	defer c.Close()

	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.CanaryRollout)
	w.RegisterActivity(acts)
	logger.Info("worker serving", "taskQueue", workflows.TaskQueue, "providers", cfg.describe(acts))
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	if !errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return nil
}
