package prometheus

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"

	"github.com/canaryflow/canaryflow/rollout"
)

// The counts measured per version, next to the figures. Their names are the
// second half of the keys in rollout.Sample.Queries ("canary.requests").
const (
	cntRequests = "requests"
	cntErrors   = "errors"
	cntBuckets  = "buckets"
)

// MaxCountsSpan caps the span MeasureCounts asks about. An increase() over
// a day of a busy histogram already reads every sample of every bucket
// series in it; a weight held longer than that is judged on its last day,
// which is still far more data than any one window.
const MaxCountsSpan = 24 * time.Hour

// DefaultScrapeInterval is the shortest span MeasureCounts asks about unless
// WithScrapeInterval says otherwise: the usual scrape interval of
// production Prometheus configurations.
const DefaultScrapeInterval = 15 * time.Second

// WithScrapeInterval tells the Source how often the app's metrics are
// scraped. MeasureCounts never asks about a shorter span: increase() needs
// two samples in its range, so a shorter one is empty by construction and
// would read as "no canary data" just after a weight change.
func WithScrapeInterval(d time.Duration) Option {
	return func(s *Source) {
		if d > 0 {
			s.scrapeInterval = d
		}
	}
}

// countQueries returns one version's counts queries over rng, keyed by count.
//
// The 5xx count falls back to 0 as the error rate's numerator does: a
// version that never failed has no code="5xx" series. The bucket counts
// keep their le label, one series per upper bound; a metric without
// buckets gives none, and the counts then simply have no buckets.
func countQueries(metric string, sel selector, rng string) map[string]string {
	return map[string]string{
		cntRequests: fmt.Sprintf("sum(increase(%s_count{%s}[%s]))", metric, sel, rng),
		cntErrors:   fmt.Sprintf(`sum(increase(%s_count{%s,code=~"5.."}[%s])) or vector(0)`, metric, sel, rng),
		cntBuckets:  fmt.Sprintf("sum by (le) (increase(%s_bucket{%s}[%s]))", metric, sel, rng),
	}
}

// buildCountQueries resolves both versions' counts queries over rng, keyed
// like "canary.requests" as rollout.Sample.Queries wants. Labels are the
// rate queries' (the spec's, with its app): counts and figures describe the
// same series.
func buildCountQueries(p rollout.PrometheusMetrics, rng string) (map[string]string, error) {
	if err := checkMetric(p.Metric); err != nil {
		return nil, err
	}
	out := make(map[string]string, 6)
	for _, role := range []rollout.Role{rollout.RoleCanary, rollout.RoleStable} {
		sel, err := newSelector(role, p.Labels)
		if err != nil {
			return nil, err
		}
		for c, q := range countQueries(p.Metric, sel, rng) {
			out[string(role)+"."+c] = q
		}
	}
	return out, nil
}

// countsRun gathers the answers to one set of counts queries as they
// arrive, from goroutines of an errgroup shared with other queries.
type countsRun struct {
	queries map[string]string
	mu      sync.Mutex
	values  map[string]float64
	buckets map[string][]rollout.Bucket
}

// goCounts starts every query of queries (from buildCountQueries) on g, all
// evaluated at at, and returns where their answers land once g is waited for.
func (s *Source) goCounts(ctx context.Context, g *errgroup.Group, api promv1.API, addr string, queries map[string]string, at time.Time) *countsRun {
	r := &countsRun{queries: queries, values: map[string]float64{}, buckets: map[string][]rollout.Bucket{}}
	for _, role := range []rollout.Role{rollout.RoleCanary, rollout.RoleStable} {
		for _, c := range []string{cntRequests, cntErrors} {
			key := string(role) + "." + c
			g.Go(func() error {
				v, ok, err := s.query(ctx, api, addr, key, queries[key], at)
				if err != nil || !ok {
					return err
				}
				if bad(v) {
					return fmt.Errorf("querying Prometheus at %s for %s (%s): the count is %g: %w",
						addr, key, queries[key], v, rollout.ErrQueryFailed)
				}
				r.mu.Lock()
				defer r.mu.Unlock()
				r.values[key] = v
				return nil
			})
		}
		key := string(role) + "." + cntBuckets
		g.Go(func() error {
			b, err := s.queryBuckets(ctx, api, addr, key, queries[key], at)
			if err != nil {
				return err
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			r.buckets[key] = b
			return nil
		})
	}
	return r
}

// found reports whether role's requests query had a result: whether
// Prometheus has that version's series at all over the span.
func (r *countsRun) found(role rollout.Role) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.values[string(role)+"."+cntRequests]
	return ok
}

// counts returns what was gathered, over span. A version without series
// counts 0 requests and 0 errors (JSON cannot carry NaN, and no series is
// no request counted); the caller tells that apart with found.
func (r *countsRun) counts(span time.Duration) *rollout.Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	version := func(role rollout.Role) rollout.VersionCounts {
		k := string(role) + "."
		return rollout.VersionCounts{Requests: r.values[k+cntRequests], Errors: r.values[k+cntErrors], Buckets: r.buckets[k+cntBuckets]}
	}
	return &rollout.Counts{Canary: version(rollout.RoleCanary), Stable: version(rollout.RoleStable), Span: rollout.Duration(span)}
}

// queryBuckets evaluates a "sum by (le)" query and returns its buckets
// sorted by upper bound, +Inf last. An empty answer (no histogram) is no
// buckets, not an error. Series whose le is not a number are left out, as
// histogram_quantile leaves them out; bounds spelled two ways ("1" and
// "1.0", from two exporters) are one bucket, their counts added.
//
// The counts are Prometheus's increase() of each bucket series, which
// extrapolates each series on its own: neighbouring buckets, and +Inf
// against the requests count, may differ by a fraction of a request from
// what a consistent histogram would hold.
func (s *Source) queryBuckets(ctx context.Context, api promv1.API, addr, key, q string, at time.Time) ([]rollout.Bucket, error) {
	res, err := s.eval(ctx, api, addr, key, q, at)
	if err != nil {
		return nil, err
	}
	vec, ok := res.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("querying Prometheus at %s for %s (%s): unexpected result type %s: %w",
			addr, key, q, res.Type(), rollout.ErrQueryFailed)
	}
	byLE := make(map[float64]float64, len(vec))
	for _, smp := range vec {
		raw, ok := smp.Metric[model.BucketLabel]
		le, err := strconv.ParseFloat(string(raw), 64)
		if !ok || err != nil || math.IsNaN(le) {
			s.log.Warn("prometheus bucket without a numeric le left out", "address", addr, "figure", key, "query", q, "series", smp.Metric.String())
			continue
		}
		v := float64(smp.Value)
		if bad(v) {
			return nil, fmt.Errorf("querying Prometheus at %s for %s (%s): bucket le=%q counts %g: %w",
				addr, key, q, raw, v, rollout.ErrQueryFailed)
		}
		byLE[le] += v
	}
	if len(byLE) == 0 {
		return nil, nil
	}
	out := make([]rollout.Bucket, 0, len(byLE))
	for le, n := range byLE {
		out = append(out, rollout.Bucket{LE: rollout.Value(le), Count: n})
	}
	slices.SortFunc(out, func(a, b rollout.Bucket) int { return cmp.Compare(a.LE, b.LE) })
	return out, nil
}

// countsSpan is the span MeasureCounts asks about at now: since now − since
// rounded up to whole seconds, at least minSpan (rounded up too) and at
// most MaxCountsSpan. A since in the future (clocks apart) gets minSpan; a
// zero since gets MaxCountsSpan.
func countsSpan(since, now time.Time, minSpan time.Duration) time.Duration {
	// Capped before rounding: a zero since is centuries ago, and Sub
	// saturates at the largest Duration, which rounding up would overflow.
	ceil := func(d time.Duration) time.Duration {
		return (min(d, MaxCountsSpan) + time.Second - 1).Truncate(time.Second)
	}
	return min(max(ceil(now.Sub(since)), ceil(minSpan), time.Second), MaxCountsSpan)
}

// MeasureCounts returns both versions' counts since a moment — the current
// weight's start — so that later looks judge all the data gathered at that
// weight, not one window: increase() of the requests, their 5xx and the
// histogram's buckets over now − since, evaluated now.
//
// The span is rounded up to whole seconds, is at least the scrape interval
// (WithScrapeInterval) and at most MaxCountsSpan (24 h): a weight held
// longer is counted over its last 24 hours only, and Counts.Span says so.
//
// Like Measure, it wraps rollout.ErrQueryFailed when Prometheus cannot be
// asked or fails to answer (counts nil), and rollout.ErrNoData when the
// canary has no series over the span (counts then hold stable's, and the
// canary's zeros). A histogram without buckets is not an error: the counts
// have no buckets. Each query has the per-query timeout and answer-size
// limit of Measure's; errors name the queries and the server, its
// credentials redacted.
func (s *Source) MeasureCounts(ctx context.Context, spec rollout.Spec, since time.Time) (*rollout.Counts, error) {
	c, err := s.measureCounts(ctx, spec, since)
	return c, s.redact(err, spec)
}

func (s *Source) measureCounts(ctx context.Context, spec rollout.Spec, since time.Time) (*rollout.Counts, error) {
	p := s.settings(spec)
	at := s.now()
	span := countsSpan(since, at, s.scrapeInterval)
	queries, err := buildCountQueries(p, rangeOf(span))
	if err != nil {
		return nil, fmt.Errorf("building counts queries: %w", err)
	}
	api, addr, err := s.client(p.Address)
	if err != nil {
		return nil, fmt.Errorf("counting canary and stable requests: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	run := s.goCounts(gctx, g, api, addr, queries, at)
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("counting canary and stable requests since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	counts := run.counts(span)
	if !run.found(rollout.RoleCanary) {
		return counts, fmt.Errorf("counting canary and stable requests: Prometheus at %s has no canary series over the last %s for %s: %w",
			addr, span, queries[string(rollout.RoleCanary)+"."+cntRequests], rollout.ErrNoData)
	}
	return counts, nil
}

// bad reports a value no count can be: NaN or infinite.
func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
