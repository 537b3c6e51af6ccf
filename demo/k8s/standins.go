package k8s

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

// standIns are the local processes that serve and measure what the
// simulated pods cannot: stable v1 and canary v2 of the demo service, the
// local router in front of them (following the Kubernetes object's weight),
// a real Prometheus scraping them, and steady load through the router.
type standIns struct {
	StableAddr, CanaryAddr string
	RouterURL, AdminURL    string
	Prometheus             *devstack.Prometheus
	Load                   *load.Generator

	procs    []*devstack.Process
	stopLoad context.CancelFunc
	loadDone chan struct{}
	hc       *http.Client
}

// standInOptions say where the binaries are and which ports to prefer.
type standInOptions struct {
	App string
	// ToolsDir holds prometheus; BinDir holds demoapp and router.
	ToolsDir, BinDir                      string
	RPS                                   float64
	RouterPort, AdminPort, PrometheusPort int
	RuleFiles                             []string
}

// startStandIns starts both versions, the router at weight 0, Prometheus and
// load, and returns once Prometheus has stable's request metrics (analysis
// needs them from its first measurement).
func startStandIns(ctx context.Context, o standInOptions) (s *standIns, err error) {
	s = &standIns{hc: &http.Client{Timeout: 5 * time.Second}}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	ports := make([]int, 5)
	for i, p := range []int{0, 0, o.RouterPort, o.AdminPort, o.PrometheusPort} {
		if p == 0 {
			if p, err = devstack.FreePort(); err != nil {
				return nil, fmt.Errorf("picking a port: %w", err)
			}
		}
		ports[i] = p
	}
	hostPort := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	s.StableAddr, s.CanaryAddr = hostPort(ports[0]), hostPort(ports[1])
	s.RouterURL, s.AdminURL = "http://"+hostPort(ports[2]), "http://"+hostPort(ports[3])

	for _, v := range []struct{ role, version, addr string }{
		{"stable", "v1", s.StableAddr}, {"canary", "v2", s.CanaryAddr},
	} {
		p, err := s.start(v.role+"-"+o.App, filepath.Join(o.BinDir, "demoapp"),
			"--addr", v.addr, "--version", v.version, "--role", v.role, "--latency", "50ms")
		if err != nil {
			return nil, err
		}
		if err := p.WaitHTTP(ctx, "http://"+v.addr+"/health"); err != nil {
			return nil, fmt.Errorf("waiting for the %s stand-in: %w", v.role, err)
		}
	}
	router, err := s.start("router-"+o.App, filepath.Join(o.BinDir, "router"),
		"--addr", hostPort(ports[2]), "--admin-addr", hostPort(ports[3]),
		"--stable", "http://"+s.StableAddr, "--canary", "http://"+s.CanaryAddr)
	if err != nil {
		return nil, err
	}
	if err := router.WaitHTTP(ctx, s.AdminURL+"/healthz"); err != nil {
		return nil, fmt.Errorf("waiting for the local router: %w", err)
	}
	s.Prometheus, err = devstack.StartPrometheus(ctx, devstack.PrometheusOptions{
		BinDir: o.ToolsDir, Port: ports[4], RuleFiles: o.RuleFiles,
		Jobs:      map[string][]string{"demo": {s.StableAddr, s.CanaryAddr}, "router": {hostPort(ports[3])}},
		JobLabels: map[string]map[string]string{"demo": {"app": o.App}, "router": {"app": o.App}},
	})
	if err != nil {
		return nil, fmt.Errorf("starting Prometheus: %w", err)
	}
	if s.Load, err = load.New(load.Config{Target: s.RouterURL, RPS: o.RPS}); err != nil {
		return nil, fmt.Errorf("configuring load: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.stopLoad, s.loadDone = cancel, make(chan struct{})
	go func() {
		defer close(s.loadDone)
		s.Load.Run(lctx)
	}()
	if err := s.waitScraped(ctx, o.App); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *standIns) start(name, bin string, args ...string) (*devstack.Process, error) {
	p, err := devstack.StartProcess(name, bin, args, nil)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	s.procs = append(s.procs, p)
	return p, nil
}

// waitScraped polls Prometheus until it holds stable's request count.
func (s *standIns) waitScraped(ctx context.Context, app string) error {
	q := url.Values{"query": {fmt.Sprintf(`sum(%s_count{job="demo",app=%q,version="stable"}) > 0`, rollout.DefaultMetric, app)}}
	var last error
	for {
		ok, err := s.query(ctx, s.Prometheus.URL()+"/api/v1/query?"+q.Encode())
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for Prometheus to scrape stable's requests (last: %v): %w", last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// query reports whether an instant query returned any series.
func (s *standIns) query(ctx context.Context, u string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return false, fmt.Errorf("decoding Prometheus's answer: %w", err)
	}
	return len(body.Data.Result) > 0, nil
}

// setWeight sets the local router's canary weight through its admin API.
func (s *standIns) setWeight(ctx context.Context, weight int) error {
	return s.put(ctx, s.AdminURL+"/weight", map[string]int{"weight": weight})
}

// injectErrors makes the canary stand-in answer rate of /api requests 500.
func (s *standIns) injectErrors(ctx context.Context, rate float64) error {
	return s.put(ctx, "http://"+s.CanaryAddr+"/admin/faults", map[string]float64{"errorRate": rate})
}

func (s *standIns) put(ctx context.Context, u string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding PUT %s: %w", u, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("PUT %s: %w", u, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %s", u, resp.Status)
	}
	return nil
}

// stop stops load first (so nothing counts errors from processes going
// away), then Prometheus and the processes.
func (s *standIns) stop() {
	if s.stopLoad != nil {
		s.stopLoad()
		<-s.loadDone
	}
	if s.Prometheus != nil {
		_ = s.Prometheus.Stop()
	}
	for i := len(s.procs) - 1; i >= 0; i-- {
		_ = s.procs[i].Stop()
	}
}
