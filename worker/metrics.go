package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/telemetry"
)

// workerMetrics is what the worker's /metrics serves: the Go runtime and
// process figures, the Temporal SDK's metrics and canaryflow_*, all in one
// registry of its own (nothing a library registers globally leaks in).
type workerMetrics struct {
	registry *prometheus.Registry
	handler  *telemetry.PrometheusHandler
}

func newWorkerMetrics(logger *slog.Logger) (*workerMetrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("registering the Go runtime metrics: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("registering the process metrics: %w", err)
	}
	h, err := telemetry.NewPrometheusHandler(reg, logger)
	if err != nil {
		return nil, err
	}
	return &workerMetrics{registry: reg, handler: h}, nil
}

func (m *workerMetrics) close(ctx context.Context, logger *slog.Logger) {
	if err := m.handler.Close(ctx); err != nil {
		logger.Warn("closing worker metrics", "err", err)
	}
}

// dial connects as control.Dial does, with the SDK's metrics going to h, and
// returns the namespace the options resolved to. The handler must be set
// when the connection is made: the SDK binds its request metrics
// (temporal_request*, the long polls) to the gRPC connection, so a client
// derived later would not report them.
func dial(ctx context.Context, address, namespace string, h client.MetricsHandler) (client.Client, string, error) {
	o, err := control.ClientOptions(address, namespace)
	if err != nil {
		return nil, "", err
	}
	o.MetricsHandler = h
	c, err := control.DialOptions(ctx, o)
	return c, o.Namespace, err
}
