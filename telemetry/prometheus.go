package telemetry

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// meterName is the instrumentation scope of every instrument; it is not
// exported as a label (WithoutScopeInfo).
const meterName = "github.com/canaryflow/canaryflow"

// PrometheusHandler is the Temporal SDK metrics handler the worker passes as
// client.Options.MetricsHandler: the SDK's own metrics and canaryflow_*
// both end up in one Prometheus registry, the one the worker's /metrics
// serves.
type PrometheusHandler struct {
	client.MetricsHandler
	provider *sdkmetric.MeterProvider
}

// NewPrometheusHandler registers an exporter with reg and returns the handler
// feeding it. It goes through OpenTelemetry (the SDK's maintained contrib
// handler) with the Prometheus exporter: counters are monotonic (_total),
// timers are histograms in seconds (_seconds) with buckets fit for what they
// time, and no scope labels or target_info are added, so the series look
// like any other Prometheus client's. An instrument the meter refuses is
// logged, never a panic inside a workflow task.
func NewPrometheusHandler(reg prometheus.Registerer, logger *slog.Logger) (*PrometheusHandler, error) {
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the Prometheus exporter for worker metrics: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithView(view))
	h := temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                provider.Meter(meterName),
		UseMonotonicCounters: true,
		OnError: func(err error) {
			logger.Warn("worker metric not recorded", "err", err)
		},
	})
	return &PrometheusHandler{MetricsHandler: h, provider: provider}, nil
}

// Close stops the meter provider; the registry keeps what it registered.
func (p *PrometheusHandler) Close(ctx context.Context) error {
	if err := p.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("stopping the worker metrics provider: %w", err)
	}
	return nil
}

// view gives canaryflow_* instruments their help text and buckets, and the
// SDK's latency histograms buckets in seconds (OpenTelemetry's default
// buckets suit milliseconds: every SDK latency would fall in the first).
func view(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
	s := sdkmetric.Stream{Name: i.Name, Description: i.Description, Unit: i.Unit}
	m, ours := lookup(i.Name)
	if ours {
		s.Description = m.Help
	}
	if i.Kind == sdkmetric.InstrumentKindHistogram {
		buckets := sdkBuckets
		if ours {
			buckets = m.Buckets
		}
		s.Aggregation = sdkmetric.AggregationExplicitBucketHistogram{Boundaries: buckets}
	}
	return s, true
}
