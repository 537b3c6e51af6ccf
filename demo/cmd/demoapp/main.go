// Command demoapp runs the demo service (see package demo/app) as one
// process; canaryflow's local deployer starts one per role.
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

	"github.com/canaryflow/canaryflow/demo/app"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		// Logged last so a deployer showing a log's last line shows the cause.
		slog.Error("demoapp failed", "err", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("demoapp", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on")
	version := fs.String("version", "v1", "release version reported by /health and X-App-Version")
	role := fs.String("role", "stable", "stable or canary: the metrics' version label")
	errorRate := fs.Float64("error-rate", 0, "share (0..1) of /api/* requests answered 500")
	latency := fs.Duration("latency", 0, "delay added to each /api/* request, such as 50ms")
	memoryMB := fs.Int("memory-mb", 0, "memory ballast to hold, in MiB")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parsing flags: %w", err)
	}

	a, err := app.New(app.Config{
		Version: *version,
		Role:    *role,
		Faults:  app.Faults{ErrorRate: *errorRate, Latency: *latency, MemoryMB: *memoryMB},
	})
	if err != nil {
		return fmt.Errorf("configuring demoapp: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return a.ListenAndServe(ctx, *addr)
}
