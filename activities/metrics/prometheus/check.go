package prometheus

import (
	"context"
	"fmt"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/canaryflow/canaryflow/rollout"
)

// Check verifies, before anything is deployed, that Prometheus answers and
// has the spec's histogram with a version label in the last hour. A
// Prometheus that cannot be asked wraps rollout.ErrQueryFailed; a missing
// metric wraps rollout.ErrUnknownMetric and names the selector tried, since
// a typo in the metric or a label is the usual cause. Its errors name the
// server with its credentials redacted.
func (s *Source) Check(ctx context.Context, spec rollout.Spec) error {
	return s.redact(s.check(ctx, spec), spec)
}

func (s *Source) check(ctx context.Context, spec rollout.Spec) error {
	p := s.settings(spec)
	if err := checkMetric(p.Metric); err != nil {
		return fmt.Errorf("checking the metrics source: %w", err)
	}
	api, addr, err := s.client(p.Address)
	if err != nil {
		return fmt.Errorf("checking the metrics source: %w", err)
	}
	count, err := seriesMatcher(p.Metric+"_count", p.Labels, true)
	if err != nil {
		return fmt.Errorf("checking the metrics source: %w", err)
	}
	ok, err := s.hasSeries(ctx, api, addr, count)
	if err != nil {
		return err
	}
	if !ok {
		return s.explainMissing(ctx, api, addr, p)
	}
	bucket, err := seriesMatcher(p.Metric+"_bucket", p.Labels, true)
	if err != nil {
		return fmt.Errorf("checking the metrics source: %w", err)
	}
	if ok, err = s.hasSeries(ctx, api, addr, bucket); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("checking the metrics source: Prometheus at %s has %s but no %s: metric %q must be a histogram (p95 and p99 need its buckets): %w",
			addr, count, bucket, p.Metric, rollout.ErrUnknownMetric)
	}
	return nil
}

// explainMissing tells "the metric or labels are wrong" from "the series
// exist but carry no version label", which need different fixes.
func (s *Source) explainMissing(ctx context.Context, api promv1.API, addr string, p rollout.PrometheusMetrics) error {
	versioned, _ := seriesMatcher(p.Metric+"_count", p.Labels, true)
	unversioned, err := seriesMatcher(p.Metric+"_count", p.Labels, false)
	if err != nil {
		return fmt.Errorf("checking the metrics source: %w", err)
	}
	ok, err := s.hasSeries(ctx, api, addr, unversioned)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("checking the metrics source: Prometheus at %s has %s but none labelled version=\"stable\" or \"canary\" (no %s); canaryflow compares versions by that label: %w",
			addr, unversioned, versioned, rollout.ErrUnknownMetric)
	}
	return fmt.Errorf("checking the metrics source: Prometheus at %s has no series %s in the last %s (metric %q, labels %v): check metrics.prometheus.metric and .labels, and that the app is scraped: %w",
		addr, unversioned, checkLookback, p.Metric, p.Labels, rollout.ErrUnknownMetric)
}

// hasSeries asks the series endpoint, which reads only the index, whether
// any series matches over the lookback.
func (s *Source) hasSeries(ctx context.Context, api promv1.API, addr, match string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.queryTimeout)
	defer cancel()
	end := time.Now()
	// The limit is ignored by servers older than 2.48 and saves work on newer ones.
	sets, warnings, _, err := api.Series(ctx, []string{match}, end.Add(-checkLookback), end, promv1.WithLimit(1))
	if err != nil {
		return false, fmt.Errorf("checking the metrics source: asking Prometheus at %s for series %s: %w: %w",
			addr, match, rollout.ErrQueryFailed, err)
	}
	if len(warnings) > 0 {
		s.log.Warn("prometheus series warnings", "address", addr, "match", match, "warnings", warnings)
	}
	return len(sets) > 0, nil
}
