package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, the ones the reference system's dashboards and canaryflow's
// default analysis queries (rollout.DefaultMetric) already use.
const (
	MetricDuration = "http_request_duration_seconds"
	MetricRequests = "http_requests_total"
	MetricInFlight = "http_requests_in_flight"
)

// Label values used when the real value would make the series unbounded.
const (
	LabelOther   = "other"
	LabelUnknown = "unknown"
)

// DefaultBuckets has an edge at the absolute rollback threshold (p95 < 2 s)
// and, from 10 ms to 3 s, no bucket wider than × 1.5 (most × 1.33-1.5), so
// that a canary 1.5 × slower than stable lands in another bucket than
// stable's p95 whatever that p95 is: linear interpolation inside a wide
// bucket (the old (0.1 s, 0.25 s]) made a × 1.5 canary read as × 1.4 and
// a × 1.25 one as slower than it is.
var DefaultBuckets = []float64{.005, .01, .015, .025, .035, .05, .075, .1, .15, .2, .3, .4, .5, .75, 1, 1.5, 2, 3, 5, 10}

// MetricsOptions configures NewMetrics.
type MetricsOptions struct {
	// Routes are the known route patterns in net/http.ServeMux syntax
	// ("/api/properties", "GET /api/users/{id}"); a request matching none of
	// them is labelled route="other", so raw paths never become label values.
	Routes []string
	// Buckets are the duration histogram's upper bounds; nil uses DefaultBuckets.
	Buckets []float64
}

// Metrics records request metrics labelled with version so analysis can
// compare canary against stable. It is safe for concurrent use.
type Metrics struct {
	duration *prometheus.HistogramVec
	requests *prometheus.CounterVec
	inFlight *prometheus.GaugeVec
	routes   *routeMatcher

	// versions and series hold observers resolved on first use (see series).
	versions versionIndex
	series   seriesIndex
}

// NewMetrics creates the three collectors and registers them with reg (nil
// means prometheus.DefaultRegisterer, which promhttp.Handler serves).
func NewMetrics(reg prometheus.Registerer, opts MetricsOptions) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	routes, err := newRouteMatcher(opts.Routes)
	if err != nil {
		return nil, fmt.Errorf("creating request metrics: %w", err)
	}
	buckets := opts.Buckets
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	labels := []string{"version", "method", "route", "code"}
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricDuration,
			Help:    "Time to serve an HTTP request, by version, method, route and status code.",
			Buckets: buckets,
		}, labels),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRequests,
			Help: "HTTP requests served, by version, method, route and status code.",
		}, labels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricInFlight,
			Help: "HTTP requests being served, by version.",
		}, []string{"version"}),
		routes: routes,
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.duration, m.requests, m.inFlight} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("registering request metrics: %w", err)
	}
	return m, nil
}

// Handler records every request next serves. version is called before next
// runs (the in-flight gauge needs it), so it must not depend on what next
// does: wrap each backend inside Splitter.Handler, or use FixedVersion in a
// process that only ever runs one version. An empty version is recorded as
// "unknown"; a nil version func records everything as "unknown".
func (m *Metrics) Handler(version func(*http.Request) string, next http.Handler) http.Handler {
	if version == nil {
		version = FixedVersion(LabelUnknown)
	}
	return &metricsHandler{m: m, version: version, next: next}
}

type metricsHandler struct {
	m       *Metrics
	version func(*http.Request) string
	next    http.Handler
}

func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v := h.m.versions.get(h.m.inFlight, h.version(r))
	v.inFlight.Inc()
	sw := acquireStatusWriter(w)
	start := monotonicNow()
	// A deferred call with arguments, not a closure, so nothing escapes;
	// it still runs when next panics, which is recorded as a 500.
	defer h.m.record(v, sw, r, start)
	h.next.ServeHTTP(sw, r)
	sw.finished = true
}

// record is the deferred end of a request: the gauge, then the two series.
func (m *Metrics) record(v *versionSeries, sw *statusWriter, r *http.Request, start time.Duration) {
	elapsed := monotonicNow() - start
	v.inFlight.Dec()
	code := sw.status()
	releaseStatusWriter(sw)
	s := m.lookup(v, methodIndex(r.Method), m.routes.route(r), code)
	s.duration.Observe(elapsed.Seconds())
	s.requests.Inc()
}

// lookup returns the resolved series for a label combination, resolving and
// caching it the first time.
func (m *Metrics) lookup(v *versionSeries, method, route, code int) *series {
	key, cacheable := seriesKey(v.idx, method, route, code)
	if cacheable {
		if s := m.series.load(key); s != nil {
			return s
		}
	}
	labels := []string{v.name, methodNames[method], m.routes.names[route], codeLabel(code)}
	s := &series{key: key, duration: m.duration.WithLabelValues(labels...), requests: m.requests.WithLabelValues(labels...)}
	if !cacheable {
		return s
	}
	return m.series.loadOrStore(s)
}

// epoch anchors monotonicNow. time.Now reads the wall clock as well as the
// monotonic one; a duration needs only the latter, and time.Since on a
// monotonic time.Time reads only that.
var epoch = time.Now()

func monotonicNow() time.Duration { return time.Since(epoch) }

// FixedVersion labels every request with v, for a process that runs one
// version (the demo service started as stable or as canary).
func FixedVersion(v string) func(*http.Request) string {
	return func(*http.Request) string { return v }
}

// VersionOf labels a request with the choice a Splitter upstream recorded in
// its context, or "unknown" when there was none.
func VersionOf(r *http.Request) string {
	if v, ok := VersionFrom(r.Context()); ok {
		return v
	}
	return LabelUnknown
}
