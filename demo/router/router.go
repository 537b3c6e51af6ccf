// Package router is the demo's local traffic router: a weighted reverse
// proxy in front of a stable and a canary backend, with an admin API the
// local TrafficRouter moves the weight through. It stands in for
// ingress-nginx or a Gateway API implementation on a laptop, with the same
// routing rules (header, then cookie, then weight) because it is built on
// middleware.Splitter.
package router

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/canaryflow/canaryflow/middleware"
	"github.com/canaryflow/canaryflow/rollout"
)

// DefaultRoutes label the router's request metrics when Config.Routes is
// empty: the paths smoke tests and the demo app use.
var DefaultRoutes = append([]string{rollout.DefaultHealthPath}, rollout.DefaultEndpoints...)

// Errors SetWeight returns, which the admin API turns into 400 and 422.
var (
	// ErrWeightRange: the weight is not a percentage.
	ErrWeightRange = errors.New("weight must be between 0 and 100")
	// ErrWeightRefused: the weight is above this router's MaxWeight. Tests
	// use it to play a router that refuses what the rollout asks.
	ErrWeightRefused = errors.New("weight refused")
)

// Config is what a router needs. Only Stable and Canary are required.
type Config struct {
	// Stable and Canary are the backends' base URLs (http or https).
	Stable string
	Canary string
	// Weight is the canary share to start with.
	Weight int
	// MaxWeight, when set, is the highest weight the router accepts; nil
	// accepts up to 100. It is a pointer because 0 is a meaningful cap.
	MaxWeight *int
	// Header and Cookie force routing with always|never; defaults X-Canary
	// and canary.
	Header string
	Cookie string
	// Sticky keeps a user on the version the weight first chose.
	Sticky bool
	// Rand draws the weighted choice; nil uses math/rand/v2. Tests seed it
	// to make split ratios reproducible.
	Rand func() float64
	// Routes are the route patterns metrics are labelled with; nil uses
	// DefaultRoutes.
	Routes []string
	// Logger receives proxy errors and weight changes; nil uses slog.Default.
	Logger *slog.Logger
	// Transport reaches the backends; nil uses a clone of
	// http.DefaultTransport that keeps more idle connections per backend,
	// so load tests do not churn through ephemeral ports.
	Transport http.RoundTripper
}

// Router is a running configuration: the splitter, the two proxies and the
// metrics registry the admin listener serves.
type Router struct {
	splitter  *middleware.Splitter
	maxWeight int
	log       *slog.Logger
	registry  *prometheus.Registry
	public    http.Handler
	admin     http.Handler
	limits    serverLimits
}

// New checks cfg and builds a Router; nothing listens until Serve.
func New(cfg Config) (*Router, error) {
	stable, err := backendURL("stable", cfg.Stable)
	if err != nil {
		return nil, err
	}
	canary, err := backendURL("canary", cfg.Canary)
	if err != nil {
		return nil, err
	}
	maxWeight := 100
	if cfg.MaxWeight != nil {
		maxWeight = *cfg.MaxWeight
	}
	if maxWeight < 0 || maxWeight > 100 {
		return nil, fmt.Errorf("max weight %d: %w", maxWeight, ErrWeightRange)
	}
	if cfg.Weight < 0 || cfg.Weight > maxWeight {
		return nil, fmt.Errorf("initial weight %d: must be between 0 and the max weight %d", cfg.Weight, maxWeight)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	routes := cfg.Routes
	if len(routes) == 0 {
		routes = DefaultRoutes
	}
	transport := cfg.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		transport = t
	}

	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("registering Go runtime metrics: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("registering process metrics: %w", err)
	}
	metrics, err := middleware.NewMetrics(reg, middleware.MetricsOptions{Routes: routes})
	if err != nil {
		return nil, fmt.Errorf("creating router metrics: %w", err)
	}

	r := &Router{
		splitter: middleware.NewSplitter(middleware.SplitConfig{
			Header: cfg.Header,
			Cookie: cfg.Cookie,
			Weight: cfg.Weight,
			Sticky: cfg.Sticky,
			Rand:   cfg.Rand,
			// Nothing behind the splitter reads the version from the request
			// context (each backend is a proxy wrapped in Metrics with a fixed
			// version), so the router takes the allocation-free path.
			NoContext: true,
		}),
		maxWeight: maxWeight,
		log:       log,
		registry:  reg,
		limits:    defaultLimits,
	}
	// Metrics sit inside the splitter, one per backend, so the version label
	// is the backend that actually served the request.
	r.public = withoutAppAdmin(r.splitter.Handler(
		metrics.Handler(middleware.FixedVersion(middleware.VersionStable), r.proxy(middleware.VersionStable, stable, transport)),
		metrics.Handler(middleware.FixedVersion(middleware.VersionCanary), r.proxy(middleware.VersionCanary, canary, transport)),
	))
	r.admin = r.adminMux()
	log.Info("router configured", "stable", stable.String(), "canary", canary.String(),
		"weight", cfg.Weight, "max_weight", maxWeight, "sticky", cfg.Sticky)
	return r, nil
}

func backendURL(role, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s backend URL is required", role)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing %s backend URL: %w", role, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s backend URL %q: want http://host:port or https://host:port", role, raw)
	}
	return u, nil
}

// proxy forwards to one backend. A backend that cannot be reached answers
// 502, which the metrics count as an error of that version: a canary that is
// down should fail its analysis, as it would behind a real ingress.
func (r *Router) proxy(version string, target *url.URL, transport http.RoundTripper) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: transport,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			r.log.Warn("proxying to backend failed", "version", version, "backend", target.Host,
				"method", req.Method, "path", req.URL.Path, "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
}

// Handler is the public side: every request but the apps' admin API is
// proxied to stable or canary.
func (r *Router) Handler() http.Handler { return r.public }

// AppAdminPrefix is the apps' own admin API (demo/app's /admin/faults). The
// public listener answers 404 there: anyone reaching the router could
// otherwise inject faults into production versions.
const AppAdminPrefix = "/admin"

// withoutAppAdmin refuses every path under AppAdminPrefix however it is
// spelled (//admin, /./admin, /x/../admin, %61dmin), since a backend cleans
// and decodes the path before it routes.
func withoutAppAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p := path.Clean("/" + req.URL.Path)
		if p == AppAdminPrefix || strings.HasPrefix(p, AppAdminPrefix+"/") {
			http.NotFound(w, req)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// AdminHandler serves GET/PUT /weight, GET /healthz and GET /metrics. It is
// kept off the public listener so users cannot move traffic or scrape it.
func (r *Router) AdminHandler() http.Handler { return r.admin }

// Weight is the canary share now in force.
func (r *Router) Weight() int { return r.splitter.Weight() }

// SetWeight moves traffic; setting the weight already in force succeeds.
// The error wraps ErrWeightRange or ErrWeightRefused.
func (r *Router) SetWeight(w int) error {
	if w < 0 || w > 100 {
		return fmt.Errorf("setting weight %d: %w", w, ErrWeightRange)
	}
	if w > r.maxWeight {
		return fmt.Errorf("setting weight %d: %w: this router's max weight is %d", w, ErrWeightRefused, r.maxWeight)
	}
	old := r.splitter.Weight()
	if err := r.splitter.SetWeight(w); err != nil {
		return fmt.Errorf("setting weight %d: %w", w, err)
	}
	if old != w {
		r.log.Info("canary weight changed", "from", old, "to", w)
	}
	return nil
}

// metricsHandler serves the router's own registry, not the global one, so
// two routers in one test process do not collide.
func (r *Router) metricsHandler() http.Handler {
	return promhttp.HandlerFor(r.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
		Timeout:  10 * time.Second,
	})
}
