// Command demo-k8s is what `make demo-k8s` runs: the rollout of `make demo`
// on the project's own Kubernetes test control plane. The Helm deployer
// installs the app chart, the Gateway API router (or, with --router nginx,
// the NGINX one) moves the weight, and a real Temporal dev server and worker
// run the rollout. Pods are simulated by kwok, so local demo processes stand
// in for them (see package demo/k8s). SCENARIO=bad injects 20 % errors into
// the canary once it has 25 % and the rollout rolls back by itself. Ctrl-C
// stops everything it started.
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

	"github.com/canaryflow/canaryflow/demo/k8s"
	"github.com/canaryflow/canaryflow/demo/stack"
	"github.com/canaryflow/canaryflow/rollout"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-k8s:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, out io.Writer) (int, error) {
	fs := flag.NewFlagSet("demo-k8s", flag.ContinueOnError)
	scenario := fs.String("scenario", "good", "good: a healthy canary is promoted; bad: the canary starts failing at 25 % and is rolled back")
	router := fs.String("router", "gatewayapi", "gatewayapi (HTTPRoute weights) or nginx (canary Ingress annotation)")
	bin := fs.String("bin", "bin", "directory with the tools (temporal, prometheus, kube binaries) and worker, demoapp, router")
	chart := fs.String("chart", filepath.Join("deploy", "charts", "app"), "the app chart")
	work := fs.String("work-dir", filepath.Join(".demo", "k8s"), "worker log, state and incident reports")
	hold := fs.Duration("hold", 20*time.Second, "hold at each weight")
	rps := fs.Float64("rps", 40, "steady load through the local router, requests per second")
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	if *scenario != "good" && *scenario != "bad" {
		return 2, fmt.Errorf("--scenario must be good or bad, got %q", *scenario)
	}
	if *router != "gatewayapi" && *router != "nginx" {
		return 2, fmt.Errorf("--router must be gatewayapi or nginx, got %q", *router)
	}
	binDir, err := filepath.Abs(*bin)
	if err != nil {
		return 1, fmt.Errorf("resolving --bin: %w", err)
	}
	chartDir, err := filepath.Abs(*chart)
	if err != nil {
		return 1, fmt.Errorf("resolving --chart: %w", err)
	}
	// Each run starts clean: only what an earlier run wrote there is removed.
	for _, name := range []string{"incidents", "worker.log"} {
		_ = os.RemoveAll(filepath.Join(*work, name))
	}

	say(out, "starting the Kubernetes test control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok), Temporal and a worker ...")
	startCtx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	started := time.Now()
	env, err := k8s.StartEnv(startCtx, k8s.EnvOptions{
		ToolsDir: binDir, BinDir: binDir, WorkDir: *work,
		TemporalPort: stack.PreferredPort(out, 7233), UIPort: stack.PreferredPort(out, 8233),
	})
	if err != nil {
		return failed(ctx, out, err)
	}
	defer env.Stop()
	say(out, fmt.Sprintf("control plane, Temporal and worker up in %s", time.Since(started).Round(100*time.Millisecond)))

	res, err := env.Run(ctx, k8s.ScenarioOptions{
		Router: *router, Bad: *scenario == "bad", Chart: chartDir, Hold: *hold, RPS: *rps, Out: out,
		RuleFiles:  stack.RuleFiles(binDir),
		RouterPort: stack.PreferredPort(out, 8080), AdminPort: stack.PreferredPort(out, 8090), PrometheusPort: stack.PreferredPort(out, 9090),
	})
	if err != nil {
		return failed(ctx, out, err)
	}
	want := map[string]rollout.Phase{"good": rollout.PhasePromoted, "bad": rollout.PhaseRolledBack}[*scenario]
	if res.Status.Phase != want {
		return 1, fmt.Errorf("scenario %s should end %s, ended %s", *scenario, want, res.Status.Phase)
	}
	return 0, nil
}

// failed is exit code 130 after Ctrl-C (saying so, not as an error), else 1 and err.
func failed(ctx context.Context, out io.Writer, err error) (int, error) {
	if errors.Is(ctx.Err(), context.Canceled) {
		say(out, "interrupted: stopping everything")
		return 130, nil
	}
	return 1, err
}

// say narrates one line (see stack.Say).
var say = stack.Say
