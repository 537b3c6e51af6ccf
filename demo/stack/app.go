package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/canaryflow/canaryflow/demo/load"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/rollout"
)

// AppOptions describe one application under rollout. Zero values give the
// demo's short plan: 10 → 25 → 50 % with 20 s holds, measured every
// DefaultInterval over DefaultWindow.
type AppOptions struct {
	Name string
	// RPS is the steady load through the router; 0 means 100.
	RPS float64
	// Latency is both versions' normal /api latency; 0 means 50 ms, well
	// inside a histogram bucket so scheduling noise does not move p95.
	Latency time.Duration
	// MaxWeight makes the router refuse weights above it (0 means 100).
	MaxWeight int
	Steps     []rollout.Step
	// Hold is each step's hold when Steps is empty; 0 means 20 s.
	Hold     time.Duration
	Interval time.Duration
	Window   time.Duration
	// RouterPort, AdminPort and PrometheusPort pin ports (the demo uses 8080/8090/9090); 0 picks free ones.
	RouterPort, AdminPort, PrometheusPort int
	// RuleFiles are loaded into Prometheus (the demo loads dashboards/prometheus).
	RuleFiles []string
	// ObserveLoad, when set, sees every answer of the load (load.Config.Observe).
	ObserveLoad func(load.Answer)
}

// App is a running application: stable v1 serving, the router in front,
// Prometheus scraping both versions and the router, and load flowing.
type App struct {
	Name string
	// Spec rolls v2 out over this app; tests adjust it before starting.
	Spec       rollout.Spec
	RouterURL  string
	AdminURL   string
	StableAddr string
	CanaryAddr string
	Prometheus *devstack.Prometheus
	Load       *load.Generator

	engine     *Engine
	router     *devstack.Process
	stopLoad   context.CancelFunc
	loadDone   chan struct{}
	httpClient *http.Client
}

// The demo's analysis settings. They are what fault → weight 0 is made of
// (demo/latency, `make bench-latency`): a measurement waits up to an
// interval for its turn, Prometheus up to a scrape for fresh samples, and an
// 8 % error canary must fill about 3/8 of the window before its error rate
// is 3 points over stable's. A 5 s window halves that last part, but on a
// busy 2-core machine it rolled back 2 healthy canaries in about 30 on p95
// noise (a fresh canary's few slow requests); 10 s at 100 req/s keeps 100
// canary requests in every look even at 10 %. That is the window rules
// (method: thresholds). The default sequential judge fails a clear fault
// on the window alone just as soon (20 % errors: about 4 s), but needs
// the evidence to be strong: 8 % takes about 16 s at this traffic.
const (
	DefaultInterval = time.Second
	DefaultWindow   = 10 * time.Second
	ScrapeInterval  = 500 * time.Millisecond
)

// MaxExtension is how long the demo's holds may be extended while the
// sequential judge is undecided. A few-second hold at 10 % sees about a
// hundred canary requests, often too few for the latency rules to pass;
// the judge passes as soon as it has enough, and this lets a short hold
// wait for that rather than stop for a person.
const MaxExtension = 30 * time.Second

func port(p int) (int, error) {
	if p != 0 {
		return p, nil
	}
	return devstack.FreePort()
}

func addr(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }

// startAttempts is how often StartApp tries with fresh free ports: between
// picking a free port and binding it, another process starting at the same
// time (parallel tests) may take it.
const startAttempts = 3

// StartApp starts stable v1, the router, Prometheus and the load for o.Name.
func (e *Engine) StartApp(ctx context.Context, o AppOptions) (*App, error) {
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		var a *App
		if a, err = e.startApp(ctx, o); err == nil {
			return a, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

func (e *Engine) startApp(ctx context.Context, o AppOptions) (_ *App, err error) {
	o = o.withDefaults()
	a := &App{Name: o.Name, engine: e, httpClient: &http.Client{Timeout: 5 * time.Second}}
	defer func() {
		if err != nil {
			a.Stop()
		}
	}()
	ports := make([]int, 5)
	for i, p := range []int{0, 0, o.RouterPort, o.AdminPort, o.PrometheusPort} {
		if ports[i], err = port(p); err != nil {
			return nil, fmt.Errorf("stack: picking a port: %w", err)
		}
	}
	a.StableAddr, a.CanaryAddr = addr(ports[0]), addr(ports[1])
	a.RouterURL, a.AdminURL = "http://"+addr(ports[2]), "http://"+addr(ports[3])
	a.Spec = a.spec(o)

	stable := a.Spec
	if err := e.deployer.Deploy(ctx, stable, rollout.RoleStable, stable.Stable); err != nil {
		return nil, fmt.Errorf("stack: starting stable %s: %w", stable.Stable.Version, err)
	}
	if err := waitFor(ctx, "stable to be ready", func() (bool, error) {
		ok, detail, err := e.deployer.Ready(ctx, stable, rollout.RoleStable)
		if err == nil && !ok {
			err = fmt.Errorf("%s", detail)
		}
		return ok, err
	}); err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}

	a.router, err = devstack.StartProcess("router-"+o.Name, filepath.Join(e.opts.BinDir, "router"), []string{
		"--addr", addr(ports[2]), "--admin-addr", addr(ports[3]),
		"--stable", "http://" + a.StableAddr, "--canary", "http://" + a.CanaryAddr,
		"--max-weight", strconv.Itoa(o.MaxWeight),
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	if err := a.router.WaitHTTP(ctx, a.AdminURL+"/healthz"); err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}

	a.Prometheus, err = devstack.StartPrometheus(ctx, devstack.PrometheusOptions{
		BinDir: e.opts.ToolsDir, Port: ports[4], RuleFiles: o.RuleFiles, ScrapeInterval: ScrapeInterval,
		Jobs:      map[string][]string{"demo": {a.StableAddr, a.CanaryAddr}, "router": {addr(ports[3])}},
		JobLabels: map[string]map[string]string{"demo": {"app": o.Name}, "router": {"app": o.Name}},
	})
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	a.Spec.Metrics.Prometheus.Address = a.Prometheus.URL()

	if a.Load, err = load.New(load.Config{Target: a.RouterURL, RPS: o.RPS, Observe: o.ObserveLoad}); err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	a.stopLoad, a.loadDone = cancel, make(chan struct{})
	go func() {
		defer close(a.loadDone)
		a.Load.Run(lctx)
	}()
	// Analysis can only start once stable's request metrics are in Prometheus.
	if err := waitFor(ctx, "Prometheus to scrape stable's request metrics", a.stableScraped); err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	return a, nil
}

func (o AppOptions) withDefaults() AppOptions {
	if o.RPS == 0 {
		o.RPS = 100
	}
	if o.Latency == 0 {
		o.Latency = 50 * time.Millisecond
	}
	if o.MaxWeight == 0 {
		o.MaxWeight = 100
	}
	if o.Hold == 0 {
		o.Hold = 20 * time.Second
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if len(o.Steps) == 0 {
		o.Steps = []rollout.Step{
			rollout.Weight(10), rollout.Hold(o.Hold), rollout.Weight(25), rollout.Hold(o.Hold),
			rollout.Weight(50), rollout.Hold(o.Hold),
		}
	}
	return o
}

// spec is the rollout of v2 over this app with the local providers.
func (a *App) spec(o AppOptions) rollout.Spec {
	return rollout.Spec{
		Version: rollout.FormatV1, App: o.Name, Namespace: "demo",
		Stable: rollout.Release{Version: "v1"}, Canary: rollout.Release{Version: "v2"},
		Deploy: rollout.Deploy{Kind: "local", ReadyTimeout: rollout.Duration(30 * time.Second), Local: &rollout.LocalDeploy{
			StableAddr: a.StableAddr, CanaryAddr: a.CanaryAddr, Args: []string{"--latency", o.Latency.String()},
		}},
		Traffic: rollout.Traffic{Kind: "local", Local: &rollout.LocalTraffic{AdminURL: a.AdminURL}},
		Metrics: rollout.Metrics{Kind: "prometheus", Prometheus: &rollout.PrometheusMetrics{
			Labels: map[string]string{"job": "demo", "app": o.Name},
		}},
		Smoke: rollout.Smoke{BaseURL: a.RouterURL},
		Steps: o.Steps,
		Analysis: rollout.Analysis{Interval: rollout.Duration(o.Interval), Window: rollout.Duration(o.Window),
			Judging: rollout.Judging{MaxExtension: rollout.Duration(MaxExtension)}},
		Notify: rollout.Notify{Kind: "log"},
	}
}

func (a *App) stableScraped() (bool, error) {
	q := url.Values{"query": {fmt.Sprintf(`sum(%s_count{job="demo",app=%q,version="stable"})`, rollout.DefaultMetric, a.Name)}}
	resp, err := a.httpClient.Get(a.Prometheus.URL() + "/api/v1/query?" + q.Encode())
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return false, err
	}
	r := body.Data.Result
	return len(r) == 1 && len(r[0].Value) == 2 && r[0].Value[1] != "0", nil
}

// Faults are what can be injected into the running canary.
type Faults struct {
	ErrorRate float64 `json:"errorRate"`
	Latency   string  `json:"latency,omitempty"`
}

// InjectCanary changes the running canary's faults through its admin endpoint.
func (a *App) InjectCanary(ctx context.Context, f Faults) error {
	body, _ := json.Marshal(f)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+a.CanaryAddr+"/admin/faults", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("injecting canary faults: %w", err)
	}
	resp, err := a.httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("injecting canary faults: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("injecting canary faults: %s", resp.Status)
	}
	return nil
}

// Weight reads the router's current canary weight.
func (a *App) Weight(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.AdminURL+"/weight", nil)
	if err != nil {
		return 0, err
	}
	resp, err := a.httpClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("reading the router weight: %w", err)
	}
	defer resp.Body.Close()
	var w struct {
		Weight int `json:"weight"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&w); err != nil {
		return 0, fmt.Errorf("reading the router weight: %w", err)
	}
	return w.Weight, nil
}

// TimeToWeightZero polls the router from now until the canary's weight is 0
// and returns how long that took: the fault-to-rollback time users feel.
func (a *App) TimeToWeightZero(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	err := waitFor(ctx, "canary weight 0", func() (bool, error) {
		w, err := a.Weight(ctx)
		return err == nil && w == 0, err
	})
	return time.Since(start), err
}

// Stop stops load, Prometheus, the router and both versions.
func (a *App) Stop() {
	if a.stopLoad != nil {
		a.stopLoad()
		<-a.loadDone
	}
	if a.Prometheus != nil {
		_ = a.Prometheus.Stop()
	}
	if a.router != nil {
		_ = a.router.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, role := range []rollout.Role{rollout.RoleCanary, rollout.RoleStable} {
		_ = a.engine.deployer.Remove(ctx, a.Spec, role)
	}
}
