package k8s

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/activities/deploy/helm"
	"github.com/canaryflow/canaryflow/activities/traffic/gatewayapi"
	"github.com/canaryflow/canaryflow/activities/traffic/nginx"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/demo/load"
	"github.com/canaryflow/canaryflow/rollout"
)

// ScenarioOptions describe one rollout of v2 over v1. Zero values give
// `make demo-k8s`: app "demo", Gateway API, 10 → 25 → 50 % with 20 s holds.
type ScenarioOptions struct {
	// App names the app, its namespace and its Helm release; default "demo".
	App string
	// Router is gatewayapi (default) or nginx.
	Router string
	// Bad injects 20 % errors into the canary stand-in once the traffic
	// object gives it 25 %, so analysis rolls the rollout back.
	Bad bool
	// Chart is the app chart's directory (deploy/charts/app); required.
	Chart string
	// Hold is each weight's hold; 0 means 20 s.
	Hold time.Duration
	// RPS is the steady load through the local router; 0 means 40.
	RPS float64
	// RouterPort, AdminPort and PrometheusPort pin ports; 0 picks free ones.
	RouterPort, AdminPort, PrometheusPort int
	// RuleFiles are loaded into Prometheus.
	RuleFiles []string
	// Out receives everything a user watches; nil discards it.
	Out io.Writer
}

// Result is how a scenario ended.
type Result struct {
	Status rollout.Status
	// Weights are the canary weights the traffic object had, in order.
	Weights []int
	// FaultToZero is the time from the injected fault until the traffic
	// object gave the canary 0 % (bad scenario; 0 when not observed).
	FaultToZero time.Duration
	// Took is from the rollout's start to its end.
	Took time.Duration
	// Load is what the load generator saw through the local router.
	Load load.Stats
}

func (o ScenarioOptions) withDefaults() ScenarioOptions {
	if o.App == "" {
		o.App = "demo"
	}
	if o.Router == "" {
		o.Router = "gatewayapi"
	}
	if o.Hold == 0 {
		o.Hold = 20 * time.Second
	}
	if o.RPS == 0 {
		o.RPS = 40
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o
}

// faultRate is the share of the canary's /api requests that fail once the
// bad scenario's fault is injected.
const faultRate = 0.2

// Run rolls v2 out over v1 in its own namespace and prints every step:
// the objects on the cluster, the local router following them, and the
// rollout's events and measurements. It returns when the rollout ends (or
// ctx does), with everything it started stopped.
func (e *Env) Run(ctx context.Context, o ScenarioOptions) (Result, error) {
	o = o.withDefaults()
	if o.Router != "gatewayapi" && o.Router != "nginx" {
		return Result{}, fmt.Errorf("router must be gatewayapi or nginx, got %q", o.Router)
	}
	if o.Chart == "" {
		return Result{}, fmt.Errorf("the app chart's directory is required")
	}
	p := &printer{out: o.Out}
	object := map[string]string{"gatewayapi": "HTTPRoute's backendRef weights", "nginx": "canary Ingress's canary-weight annotation"}[o.Router]
	p.line("note", "Pods are simulated by kwok on a local kube-apiserver; requests and metrics come from local")
	p.line("note", "demo processes standing in for them; the local router follows the %s.", object)

	if _, err := e.Kube.Client().CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.App}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return Result{}, fmt.Errorf("creating namespace %s: %w", o.App, err)
	}
	s, err := startStandIns(ctx, standInOptions{
		App: o.App, ToolsDir: e.opts.ToolsDir, BinDir: e.opts.BinDir, RPS: o.RPS, RuleFiles: o.RuleFiles,
		RouterPort: o.RouterPort, AdminPort: o.AdminPort, PrometheusPort: o.PrometheusPort,
	})
	if err != nil {
		return Result{}, fmt.Errorf("starting the local stand-ins: %w", err)
	}
	defer s.stop()
	spec := e.spec(o, s)

	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	w, err := watch(wctx, e.Kube.Client(), e.Gateway, spec, p, s.setWeight)
	if err != nil {
		return Result{}, err
	}
	p.line("helm", "installing release %s: stable %s (3 replicas) at weight 0, before the rollout", spec.ReleaseName(), spec.Stable.Image)
	if err := e.installStable(ctx, spec); err != nil {
		return Result{}, err
	}
	e.printAddresses(p, o, s)

	run, err := control.Start(ctx, e.Client, spec, "make demo-k8s")
	if err != nil {
		return Result{}, fmt.Errorf("starting the rollout: %w", err)
	}
	p.line("rollout", "%s started: %s → %s by Helm, 10%% → 25%% → 50%% with %s holds through the %s router",
		run.GetID(), spec.Stable.Image, spec.Canary.Image, o.Hold, o.Router)
	faultToZero := make(chan time.Duration, 1)
	if o.Bad {
		go injectAt25(ctx, w, s, p, faultToZero)
	}
	started := time.Now()
	st, err := control.Watch(ctx, e.Client, run.GetID(), 500*time.Millisecond, p)
	res := Result{Status: st, Took: time.Since(started), Load: s.Load.Snapshot()}
	if err != nil {
		return res, fmt.Errorf("watching rollout %s: %w", run.GetID(), err)
	}
	// The last object changes (weight 0, the canary's objects going) may
	// reach the watch a moment after the workflow ends.
	zctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, _ = w.waitWeight(zctx, func(wt int) bool { return wt == 0 })
	cancel()
	time.Sleep(500 * time.Millisecond)
	res.Weights = w.history()
	if o.Bad {
		select {
		case res.FaultToZero = <-faultToZero:
		case <-time.After(3 * time.Second):
		}
	}
	stopWatch()
	e.printEnd(ctx, p, spec, res)
	return res, nil
}

// spec is the rollout of v2 over v1 with the Helm deployer, the chosen
// Kubernetes router, Prometheus over the stand-ins and smoke tests through
// the local router with the canary header.
func (e *Env) spec(o ScenarioOptions, s *standIns) rollout.Spec {
	values := map[string]any{"ingress": map[string]any{"host": o.App + ".example.com"}}
	if o.Router == "gatewayapi" {
		// The Gateway it attaches to; no Gateway implementation runs here,
		// so the local router plays its data plane.
		values["gateway"] = map[string]any{"name": "public"}
	}
	image := "registry.local/" + o.App + ":"
	return rollout.Spec{
		Version: rollout.FormatV1, App: o.App, Namespace: o.App,
		Stable: rollout.Release{Version: "v1", Image: image + "v1"},
		Canary: rollout.Release{Version: "v2", Image: image + "v2"},
		Deploy: rollout.Deploy{Kind: "helm", ReadyTimeout: rollout.Duration(2 * time.Minute),
			Helm: &rollout.HelmDeploy{Chart: o.Chart, Values: values}},
		Traffic: rollout.Traffic{Kind: o.Router},
		Metrics: rollout.Metrics{Kind: "prometheus", Prometheus: &rollout.PrometheusMetrics{
			Address: s.Prometheus.URL(), Labels: map[string]string{"job": "demo", "app": o.App},
		}},
		Smoke: rollout.Smoke{BaseURL: s.RouterURL},
		Steps: []rollout.Step{
			rollout.Weight(10), rollout.Hold(o.Hold), rollout.Weight(25), rollout.Hold(o.Hold),
			rollout.Weight(50), rollout.Hold(o.Hold),
		},
		// At the demo's few requests a second, the 10 % step needs about
		// 20 s of traffic before the sequential judge can pass it (400
		// stable requests for a p95 baseline, some 60 canary ones): short
		// holds may extend up to a minute rather than stop for a person.
		Analysis: rollout.Analysis{Interval: rollout.Duration(2 * time.Second), Window: rollout.Duration(10 * time.Second),
			Judging: rollout.Judging{MaxExtension: rollout.Duration(time.Minute)}},
		Notify: rollout.Notify{Kind: "log"},
	}
}

// installStable installs the release with stable v1 only, as it would be
// running before anyone rolls v2 out, and waits until it is ready.
func (e *Env) installStable(ctx context.Context, spec rollout.Spec) error {
	cfg := func(string) (*rest.Config, error) { return e.Kube.RESTConfig(), nil }
	routers := map[string]activities.TrafficRouter{"gatewayapi": gatewayapi.New(cfg), "nginx": nginx.New(cfg)}
	d, err := helm.New(helm.Config{
		RESTConfig: cfg,
		Weight: func(ctx context.Context, spec rollout.Spec) (int, error) {
			return routers[spec.Traffic.Kind].Weight(ctx, spec)
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return fmt.Errorf("installing stable: %w", err)
	}
	if err := d.Deploy(ctx, spec, rollout.RoleStable, spec.Stable); err != nil {
		return fmt.Errorf("installing stable: %w", err)
	}
	for {
		ok, detail, err := d.Ready(ctx, spec, rollout.RoleStable)
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for stable to be ready (%s, %v): %w", detail, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// injectAt25 turns the canary stand-in bad a few seconds after the traffic
// object gives it 25 %, and reports how long until the object gave it 0 %.
func injectAt25(ctx context.Context, w *watcher, s *standIns, p *printer, took chan<- time.Duration) {
	if _, err := w.waitWeight(ctx, func(wt int) bool { return wt >= 25 }); err != nil {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(4 * time.Second): // a measurement or two at 25 % first
	}
	if err := s.injectErrors(ctx, faultRate); err != nil {
		p.line("fault", "injecting errors failed: %v", err)
		return
	}
	at := time.Now()
	p.line("fault", ">>> injected %.0f%% errors into the canary stand-in (v2)", faultRate*100)
	zero, err := w.waitWeight(ctx, func(wt int) bool { return wt == 0 })
	if err != nil {
		return
	}
	d := zero.Sub(at)
	p.line("fault", ">>> canary weight 0 on the %s %s after the fault", trafficObject(w.spec.Traffic.Kind), d.Round(time.Millisecond))
	took <- d
}
