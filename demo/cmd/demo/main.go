// Command demo is what `make demo` runs: a real canary rollout on this
// machine. It starts the Temporal dev server (UI on :8233), a worker,
// Prometheus (:9090), stable v1 behind the local router (:8080) with steady
// load, then rolls v2 out 10 → 25 → 50 % and prints each step and
// measurement. SCENARIO=bad injects 20 % errors into the canary once it has
// 25 % of traffic, and the rollout rolls back by itself. Ctrl-C stops
// everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/demo/stack"
	"github.com/canaryflow/canaryflow/rollout"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, out io.Writer) (int, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	scenario := fs.String("scenario", "good", "good: a healthy canary is promoted; bad: the canary starts failing at 25 % and is rolled back")
	bin := fs.String("bin", "bin", "directory with temporal, prometheus, worker, demoapp and router")
	work := fs.String("work-dir", ".demo", "state, logs and incident reports")
	hold := fs.Duration("hold", 20*time.Second, "hold at each weight")
	rps := fs.Float64("rps", 100, "steady load through the router, requests per second")
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	if *scenario != "good" && *scenario != "bad" {
		return 2, fmt.Errorf("--scenario must be good or bad, got %q", *scenario)
	}
	binDir, err := filepath.Abs(*bin)
	if err != nil {
		return 1, err
	}
	// Each demo starts clean: only what an earlier demo wrote there is removed.
	for _, name := range []string{"state", "logs", "incidents", "worker.log"} {
		_ = os.RemoveAll(filepath.Join(*work, name))
	}

	say(out, "starting Temporal dev server, worker, Prometheus, stable v1, router and load ...")
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	engine, err := stack.StartEngine(startCtx, stack.EngineOptions{
		ToolsDir: binDir, BinDir: binDir, WorkDir: *work, TemporalPort: stack.PreferredPort(out, 7233), UIPort: stack.PreferredPort(out, 8233),
	})
	if err != nil {
		return 1, err
	}
	defer engine.Stop()
	app, err := engine.StartApp(startCtx, stack.AppOptions{
		Name: "demo", RPS: *rps, Hold: *hold, RuleFiles: stack.RuleFiles(binDir),
		RouterPort: stack.PreferredPort(out, 8080), AdminPort: stack.PreferredPort(out, 8090), PrometheusPort: stack.PreferredPort(out, 9090),
	})
	if err != nil {
		return 1, err
	}
	defer app.Stop()

	steer := "bin/starter status|watch|abort|pause|resume|promote --app demo --namespace demo"
	if addr := engine.Temporal.Address(); addr != "127.0.0.1:7233" {
		steer += " --address " + addr
	}
	fmt.Fprintf(out, `
  Temporal UI   %s/namespaces/default/workflows
  Prometheus    %s  (rules and alerts: %s/rules, %s/alerts)
  router        %s  (try: curl -H 'X-Canary: always' %s/health)
  worker log    %s
  steer it      %s

`, engine.Temporal.UIURL(), app.Prometheus.URL(), app.Prometheus.URL(), app.Prometheus.URL(), app.RouterURL, app.RouterURL, filepath.Join(*work, "worker.log"), steer)

	run, err := control.Start(ctx, engine.Client, app.Spec, "make demo")
	if err != nil {
		return 1, err
	}
	say(out, fmt.Sprintf("rollout %s started: v1 → v2, 10%% → 25%% → 50%% with %s holds, measured every %s over the last %s",
		run.GetID(), *hold, app.Spec.Analysis.Interval.D(), app.Spec.Analysis.Window.D()))
	injected := make(chan time.Duration, 1)
	if *scenario == "bad" {
		go injectAt25(ctx, engine, app, run.GetID(), out, injected)
	}

	started := time.Now()
	s, err := control.Watch(ctx, engine.Client, run.GetID(), time.Second, out)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			say(out, "interrupted: stopping everything")
			return 130, nil
		}
		return 1, err
	}
	fmt.Fprintf(out, "\n%s\n", control.FormatStatus(s))
	if *scenario == "bad" {
		select {
		case d := <-injected:
			fmt.Fprintf(out, "fault injection → canary weight 0: %s\n", d.Round(time.Millisecond))
		case <-time.After(3 * time.Second):
			fmt.Fprintln(out, "fault injection → canary weight 0: not observed (the rollout ended before the fault was injected?)")
		}
	}
	fmt.Fprintf(out, "load through the router: %s\n", app.Load.Snapshot())
	fmt.Fprintf(out, "rollout took %s and ended %s\n", time.Since(started).Round(time.Second), s.Phase)
	want := map[string]rollout.Phase{"good": rollout.PhasePromoted, "bad": rollout.PhaseRolledBack}[*scenario]
	if s.Phase != want {
		return 1, fmt.Errorf("scenario %s should end %s, ended %s", *scenario, want, s.Phase)
	}
	return 0, nil
}

// injectAt25 turns the canary bad once it has 25 % of traffic and reports
// how long the rollout took to take all traffic away from it.
func injectAt25(ctx context.Context, engine *stack.Engine, app *stack.App, id string, out io.Writer, took chan<- time.Duration) {
	for {
		s, err := control.Status(ctx, engine.Client, id)
		if err == nil && s.Weight >= 25 {
			break
		}
		if err == nil && s.Phase.Final() || ctx.Err() != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(4 * time.Second) // let a measurement or two pass at 25 %
	if err := app.InjectCanary(ctx, stack.Faults{ErrorRate: 0.2}); err != nil {
		say(out, "injecting errors failed: "+err.Error())
		return
	}
	say(out, ">>> injected 20% errors into canary v2")
	if d, err := app.TimeToWeightZero(ctx); err == nil {
		took <- d
	}
}

// say narrates one line (see stack.Say).
var say = stack.Say
