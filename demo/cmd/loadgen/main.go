// Command loadgen sends a steady request rate to the demo service (usually
// through the local router) and prints live and final counts by status and
// by the version that answered, so a demo shows the traffic split move.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/canaryflow/canaryflow/demo/load"
)

type headerFlags map[string]string

func (h headerFlags) String() string { return fmt.Sprint(map[string]string(h)) }

func (h headerFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("header must be \"Name: value\", got %q", v)
	}
	h[strings.TrimSpace(k)] = strings.TrimSpace(val)
	return nil
}

func main() {
	if err := run(); err != nil {
		slog.Error("loadgen failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	headers := headerFlags{}
	target := flag.String("target", "http://127.0.0.1:8080", "base URL to send requests to")
	rps := flag.Float64("rps", 20, "requests per second")
	paths := flag.String("paths", strings.Join(load.DefaultPaths, ","), "comma-separated paths, spread round-robin")
	concurrency := flag.Int("concurrency", load.DefaultConcurrency, "maximum requests in flight")
	duration := flag.Duration("duration", 0, "how long to run; 0 runs until SIGINT/SIGTERM")
	every := flag.Duration("report-every", 5*time.Second, "how often to log live figures; 0 disables")
	flag.Var(headers, "header", "header to add, \"Name: value\" (repeatable)")
	flag.Parse()

	g, err := load.New(load.Config{
		Target:      *target,
		RPS:         *rps,
		Paths:       strings.Split(*paths, ","),
		Headers:     headers,
		Concurrency: *concurrency,
	})
	if err != nil {
		return fmt.Errorf("configuring load: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if *every > 0 {
		go func() {
			t := time.NewTicker(*every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					slog.Info("load", "stats", g.Snapshot().String())
				}
			}
		}()
	}

	slog.Info("sending load", "target", *target, "rps", *rps, "paths", *paths)
	st := g.Run(ctx)
	slog.Info("load finished", "stats", st.String())
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		return fmt.Errorf("writing final stats: %w", err)
	}
	return st.Check()
}
