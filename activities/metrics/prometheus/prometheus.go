// Package prometheus is the MetricsSource that judges a canary by the
// request-duration histogram every canaryflow app exports, labelled with
// version="stable" or "canary": it asks Prometheus's HTTP API for each
// version's request rate, 5xx share and p95/p99 over the analysis window,
// and for the counts behind them (requests, 5xx, histogram buckets) over
// the window and since a moment (MeasureCounts), which statistics need.
//
// It satisfies activities.MetricsSource structurally and imports only
// package rollout, like every provider, so providers stay independent.
package prometheus

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"

	"github.com/canaryflow/canaryflow/rollout"
)

// DefaultQueryTimeout bounds each query unless WithQueryTimeout says otherwise;
// an analysis interval is a minute, so a stuck Prometheus must not eat it.
const DefaultQueryTimeout = 10 * time.Second

// MaxAnswerBytes bounds one answer read from Prometheus. Measure's answers
// are single numbers and Check asks for one series, but the address comes
// from a spec: a wrong one must not make the worker read without end.
const MaxAnswerBytes = 4 << 20

// checkLookback is how far back Check looks for the metric's series: an app
// that has served in the last hour has them, even if idle right now.
const checkLookback = time.Hour

// Source measures canary against stable in Prometheus.
type Source struct {
	defaultAddress string // without credentials
	creds          *credentials
	token          string
	queryTimeout   time.Duration
	scrapeInterval time.Duration
	transport      http.RoundTripper
	log            *slog.Logger
	// now is the evaluation time of every query; tests pin it.
	now func() time.Time
}

// Option configures a Source.
type Option func(*Source)

// WithQueryTimeout bounds each query, both in the client and (rounded up to
// whole seconds) as Prometheus's own evaluation timeout.
func WithQueryTimeout(d time.Duration) Option {
	return func(s *Source) {
		if d > 0 {
			s.queryTimeout = d
		}
	}
}

// WithRoundTripper sets the HTTP transport, for TLS or authentication in
// front of a production Prometheus.
func WithRoundTripper(rt http.RoundTripper) Option {
	return func(s *Source) { s.transport = rt }
}

// WithBearerToken makes the Source send token as a bearer token to the
// worker's Prometheus (see New), instead of the user:password its address
// may carry.
func WithBearerToken(token string) Option {
	return func(s *Source) { s.token = token }
}

// WithLogger sets where query warnings from Prometheus are logged.
func WithLogger(l *slog.Logger) Option {
	return func(s *Source) {
		if l != nil {
			s.log = l
		}
	}
}

// New returns a Source that asks the spec's metrics.prometheus.address, or
// defaultAddress (the worker's flag) when the spec names none. An address
// without a scheme is taken as http://.
//
// defaultAddress is the worker's own Prometheus and may carry user:password
// (or WithBearerToken gives a token): those credentials are sent to that
// server — same scheme, host and port — whether the spec names no address
// or names it, and to no other, so a spec, which cannot carry credentials,
// cannot collect them either. They are never printed: messages name the
// server without them, and are scrubbed of them should a server echo them.
func New(defaultAddress string, opts ...Option) *Source {
	s := &Source{queryTimeout: DefaultQueryTimeout, scrapeInterval: DefaultScrapeInterval, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	s.defaultAddress, s.creds = splitCredentials(defaultAddress, s.token)
	s.token = ""
	rt := s.transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	if s.creds != nil {
		rt = authTransport{rt: rt, creds: s.creds}
	}
	s.transport = limitAnswers(rt, MaxAnswerBytes)
	return s
}

// redact returns err with every URL redacted and the secrets of the spec's
// address and of the worker's credentials removed.
func (s *Source) redact(err error, spec rollout.Spec) error {
	known := []string{s.settings(spec).Address}
	var values []string
	if s.creds != nil {
		known = append(known, s.creds.known...)
		values = s.creds.values
	}
	return rollout.RedactErrorValues(err, values, known...)
}

// settings returns the spec's Prometheus section with the defaults a spec
// that skipped WithDefaults would lack, and the spec's app among its labels.
func (s *Source) settings(spec rollout.Spec) rollout.PrometheusMetrics {
	var p rollout.PrometheusMetrics
	if spec.Metrics.Prometheus != nil {
		p = *spec.Metrics.Prometheus
	}
	if p.Metric == "" {
		p.Metric = rollout.DefaultMetric
	}
	if p.Address == "" {
		p.Address = s.defaultAddress
	}
	p.Labels = withApp(p.Labels, spec.App)
	return p
}

// client builds an API client for address; construction is cheap and the
// default transport pools connections, so nothing is cached per address.
// The string it returns names the server in messages: the address redacted,
// since it may carry user:password or a token.
func (s *Source) client(address string) (promv1.API, string, error) {
	if address == "" {
		return nil, "", fmt.Errorf("no Prometheus address: set metrics.prometheus.address or the worker's default: %w: %w",
			rollout.ErrQueryFailed, rollout.ErrPermanent)
	}
	if !strings.Contains(address, "://") {
		address = "http://" + address
	}
	shown := rollout.RedactURL(address)
	c, err := promapi.NewClient(promapi.Config{Address: address, RoundTripper: s.transport})
	if err != nil {
		return nil, shown, rollout.RedactError(fmt.Errorf("creating a Prometheus client for %q: %w: %w", shown, rollout.ErrQueryFailed, err))
	}
	return promv1.NewAPI(c), shown, nil
}

// Measure returns canary and stable figures over window. Figures Prometheus
// has no data for are NaN. The spec's custom metrics (analysis.metrics) are
// asked alongside, each result or failure in Sample.Custom: a custom query
// that fails is recorded there and is not an error of Measure. It wraps rollout.ErrQueryFailed when Prometheus
// cannot be asked or fails to answer, and rollout.ErrNoData when the canary
// has no series at all; with either it still returns what it measured. Its
// errors name the server with its credentials redacted.
//
// The sample's Window holds both versions' counts over the same window
// (requests, 5xx, histogram buckets; see MeasureCounts for their shape),
// asked for alongside the figures; it is nil only when a query failed,
// since a count that could not be read must not pass for zero. Cumulative
// is left nil: MeasureCounts fills it.
func (s *Source) Measure(ctx context.Context, spec rollout.Spec, window time.Duration) (rollout.Sample, error) {
	sample, err := s.measure(ctx, spec, window)
	return sample, s.redact(err, spec)
}

func (s *Source) measure(ctx context.Context, spec rollout.Spec, window time.Duration) (rollout.Sample, error) {
	sample := rollout.Sample{Canary: rollout.NoData(), Stable: rollout.NoData()}
	p := s.settings(spec)
	queries, err := buildQueries(p, window)
	if err != nil {
		return sample, fmt.Errorf("building queries: %w", err)
	}
	countQs, err := buildCountQueries(p, rangeOf(window))
	if err != nil {
		return sample, fmt.Errorf("building counts queries: %w", err)
	}
	sample.Queries = make(map[string]string, len(queries)+len(countQs))
	maps.Copy(sample.Queries, queries)
	maps.Copy(sample.Queries, countQs)
	sample.Custom = buildCustomQueries(spec, window)
	api, addr, err := s.client(p.Address)
	if err != nil {
		return sample, err
	}

	// One evaluation time for all, so the figures and counts describe the
	// same window.
	at := s.now()
	var (
		mu    sync.Mutex
		found = make(map[string]bool, len(queries))
		vals  = make(map[string]float64, len(queries))
	)
	g, gctx := errgroup.WithContext(ctx)
	for key, q := range queries {
		g.Go(func() error {
			v, ok, err := s.query(gctx, api, addr, key, q, at)
			mu.Lock()
			defer mu.Unlock()
			vals[key], found[key] = v, ok
			return err
		})
	}
	counts := s.goCounts(gctx, g, api, addr, countQs, at)
	// Custom queries on their own group: a failed one is that metric's
	// Error, not the measurement's.
	custom := s.goCustom(ctx, spec, api, addr, sample.Custom, at)
	err = g.Wait()
	sample.Custom = custom.wait()
	fill := func(role rollout.Role, f *rollout.VersionFigures) {
		get := func(fig string) rollout.Value {
			if v, ok := vals[string(role)+"."+fig]; ok {
				return rollout.Value(v)
			}
			return rollout.Value(math.NaN())
		}
		*f = rollout.VersionFigures{RequestRate: get(figRequestRate), ErrorRate: get(figErrorRate), P95: get(figP95), P99: get(figP99)}
	}
	fill(rollout.RoleCanary, &sample.Canary)
	fill(rollout.RoleStable, &sample.Stable)
	if err != nil {
		return sample, fmt.Errorf("measuring canary against stable: %w", err)
	}
	sample.Window = counts.counts(windowSpan(window))
	if !found[string(rollout.RoleCanary)+"."+figRequestRate] {
		return sample, fmt.Errorf("measuring canary against stable: Prometheus at %s has no canary series over the last %s for %s: %w",
			addr, rangeOf(window), queries[string(rollout.RoleCanary)+"."+figRequestRate], rollout.ErrNoData)
	}
	return sample, nil
}

// query evaluates one instant query and returns its single value; found is
// false when the result is empty (no series), and the value is then NaN.
func (s *Source) query(ctx context.Context, api promv1.API, addr, key, q string, at time.Time) (v float64, found bool, err error) {
	res, err := s.eval(ctx, api, addr, key, q, at)
	if err != nil {
		return math.NaN(), false, err
	}
	switch r := res.(type) {
	case model.Vector:
		switch len(r) {
		case 0:
			return math.NaN(), false, nil
		case 1:
			return float64(r[0].Value), true, nil
		}
		return math.NaN(), false, fmt.Errorf("querying Prometheus at %s for %s (%s): %d series returned, expected one: %w",
			addr, key, q, len(r), rollout.ErrQueryFailed)
	case *model.Scalar:
		return float64(r.Value), true, nil
	default:
		return math.NaN(), false, fmt.Errorf("querying Prometheus at %s for %s (%s): unexpected result type %s: %w",
			addr, key, q, res.Type(), rollout.ErrQueryFailed)
	}
}

// eval evaluates one instant query within the per-query timeout and logs
// the warnings Prometheus sends with its answer.
func (s *Source) eval(ctx context.Context, api promv1.API, addr, key, q string, at time.Time) (model.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, s.queryTimeout)
	defer cancel()
	res, warnings, _, err := api.Query(ctx, q, at, promv1.WithTimeout(serverTimeout(s.queryTimeout)))
	if err != nil {
		return nil, fmt.Errorf("querying Prometheus at %s for %s (%s): %w: %w", addr, key, q, rollout.ErrQueryFailed, err)
	}
	if len(warnings) > 0 {
		s.log.Warn("prometheus query warnings", "address", addr, "figure", key, "query", q, "warnings", warnings)
	}
	return res, nil
}

// serverTimeout is the timeout Prometheus is told: whole seconds, because
// older servers parse neither fractions nor Go's "1.5s".
func serverTimeout(d time.Duration) time.Duration {
	return max(time.Second, (d + time.Second - 1).Truncate(time.Second))
}
