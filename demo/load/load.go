// Package load generates steady HTTP traffic against the demo service so that
// canary analysis has requests to measure. It is an open-model generator: it
// fires at a fixed rate whatever the server's speed, because a closed loop
// would slow down with a slow canary and hide the very latency analysis must see.
package load

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// VersionHeader is the response header the demo app names its version in;
// counting by it shows how the router actually split the traffic.
const VersionHeader = "X-App-Version"

// DefaultPaths are the demo app's API endpoints, hit when Config names none.
var DefaultPaths = []string{"/api/properties", "/api/users"}

// DefaultConcurrency bounds in-flight requests when Config leaves it zero.
const DefaultConcurrency = 64

// Config says where to send traffic and how much.
type Config struct {
	// Target is the base URL, such as http://127.0.0.1:8080.
	Target string
	// RPS is the steady request rate per second.
	RPS float64
	// Paths are spread round-robin; empty means DefaultPaths.
	Paths []string
	// Headers are added to every request, e.g. X-Canary: always.
	Headers map[string]string
	// Concurrency bounds in-flight requests; a tick that finds the bound
	// reached is counted as Skipped instead of queueing, so a slow server
	// cannot cause a burst later.
	Concurrency int
	// Client sends the requests; nil means a client with a 10 s timeout.
	Client *http.Client
	// Observe, when set, is told of every answer as it arrives, so a
	// benchmark can see exactly when a fault reached the traffic (Stats
	// only keeps totals). It runs on the request's goroutine: keep it short.
	Observe func(Answer)
}

// Answer is one answered request, as Observe sees it.
type Answer struct {
	// At is when the answer arrived; Latency is how long it took.
	At      time.Time
	Latency time.Duration
	// Version is the X-App-Version that answered (UnknownVersion if none).
	Version string
	Status  int
}

// Generator sends a steady request rate and counts the answers; its Snapshot
// can be read while Run is going, which is how a demo shows live figures.
type Generator struct {
	cfg    Config
	base   *url.URL
	client *http.Client

	mu    sync.Mutex
	stats Stats
	start time.Time
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Generator, error) {
	if cfg.RPS <= 0 {
		return nil, fmt.Errorf("load config: RPS must be positive, got %g", cfg.RPS)
	}
	u, err := url.Parse(cfg.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("load config: Target must be an http(s) URL such as http://127.0.0.1:8080, got %q", cfg.Target)
	}
	if len(cfg.Paths) == 0 {
		cfg.Paths = DefaultPaths
	}
	for _, p := range cfg.Paths {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("load config: Paths must start with '/', got %q", p)
		}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	client := cfg.Client
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.Concurrency
		client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	return &Generator{cfg: cfg, base: u, client: client, stats: newStats()}, nil
}

// Run sends traffic until ctx is done, waits for the requests in flight and
// returns the final figures. An invalid cfg is logged and yields empty Stats;
// call New first to get the error.
func Run(ctx context.Context, cfg Config) Stats {
	g, err := New(cfg)
	if err != nil {
		slog.Error("load generator not started", "err", err)
		return newStats()
	}
	return g.Run(ctx)
}

// Run sends requests at the configured rate until ctx is done. Requests in
// flight when ctx ends are allowed to finish (bounded by the client timeout)
// so that stopping the generator never shows up as errors.
func (g *Generator) Run(ctx context.Context) Stats {
	reqCtx := context.WithoutCancel(ctx)
	sem := make(chan struct{}, g.cfg.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	g.mu.Lock()
	g.start = start
	g.mu.Unlock()

	interval := float64(time.Second) / g.cfg.RPS
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		// Ticks are scheduled from the start time, not from the previous
		// tick, so sleep overshoot does not accumulate into a lower rate.
		due := start.Add(time.Duration(float64(i) * interval))
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		// Checked after the wait because select picks at random when the
		// timer and ctx are both ready.
		if ctx.Err() != nil {
			wg.Wait()
			g.mu.Lock()
			defer g.mu.Unlock()
			g.stats.Elapsed = time.Since(start)
			return g.stats.clone()
		}
		select {
		case sem <- struct{}{}:
		default:
			g.record(func(s *Stats) { s.Skipped++ })
			continue
		}
		path := g.cfg.Paths[i%len(g.cfg.Paths)]
		g.record(func(s *Stats) { s.Sent++ })
		wg.Go(func() {
			defer func() { <-sem }()
			g.send(reqCtx, path)
		})
	}
}

// Snapshot returns the figures so far; safe to call while Run is going.
func (g *Generator) Snapshot() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stats.clone()
	if !g.start.IsZero() && s.Elapsed == 0 {
		s.Elapsed = time.Since(g.start)
	}
	return s
}

func (g *Generator) send(ctx context.Context, path string) {
	u := g.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		g.record(func(s *Stats) { s.TransportErrors++; s.Errors++ })
		return
	}
	for k, v := range g.cfg.Headers {
		req.Header.Set(k, v)
	}
	began := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		g.record(func(s *Stats) {
			s.TransportErrors++
			s.Errors++
			s.LastError = err.Error()
		})
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	took := time.Since(began)
	version := resp.Header.Get(VersionHeader)
	if version == "" {
		version = UnknownVersion
	}
	if g.cfg.Observe != nil {
		g.cfg.Observe(Answer{At: began.Add(took), Latency: took, Version: version, Status: resp.StatusCode})
	}
	g.record(func(s *Stats) {
		s.ByStatus[resp.StatusCode]++
		s.ByVersion[version]++
		s.totalLatency += took
		s.answered++
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			s.OK++
		} else {
			s.Errors++
		}
	})
}

func (g *Generator) record(f func(*Stats)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(&g.stats)
}
