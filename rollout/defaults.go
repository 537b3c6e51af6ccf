package rollout

import "time"

// The reference plan's figures, used wherever the spec is silent.
const (
	DefaultHeader          = "X-Canary"
	DefaultCookie          = "canary"
	DefaultMetric          = "http_request_duration_seconds"
	DefaultHealthPath      = "/health"
	DefaultSmokeRequests   = 20
	DefaultInterval        = time.Minute
	DefaultReadyTimeout    = 10 * time.Minute
	DefaultGateMeasurement = 3
)

// DefaultEndpoints are the critical endpoints smoke-tested when the spec names none.
var DefaultEndpoints = []string{"/api/properties", "/api/users", "/metrics"}

// DefaultSteps is the reference plan: 10 → 25 → 50 with holds, then promote.
func DefaultSteps() []Step {
	return []Step{
		Weight(10), Hold(15 * time.Minute),
		Weight(25), Hold(10 * time.Minute),
		Weight(50), Hold(15 * time.Minute),
	}
}

func ptr[T any](v T) *T { return &v }

// WithDefaults returns a copy of s with every unset field given the reference
// plan's value. It never overrides what the user wrote.
func (s Spec) WithDefaults() Spec {
	if s.Deploy.ReadyTimeout == 0 {
		s.Deploy.ReadyTimeout = Duration(DefaultReadyTimeout)
	}
	if s.Traffic.Header == "" {
		s.Traffic.Header = DefaultHeader
	}
	if s.Traffic.Cookie == "" {
		s.Traffic.Cookie = DefaultCookie
	}
	if s.Metrics.Kind == "prometheus" {
		if s.Metrics.Prometheus == nil {
			s.Metrics.Prometheus = &PrometheusMetrics{}
		} else {
			p := *s.Metrics.Prometheus
			s.Metrics.Prometheus = &p
		}
		if s.Metrics.Prometheus.Metric == "" {
			s.Metrics.Prometheus.Metric = DefaultMetric
		}
	}
	if s.Notify.Kind == "" {
		s.Notify.Kind = "log"
	}
	s.Smoke = s.Smoke.withDefaults()
	// Only absent steps get the default plan: an explicit empty list is the
	// user saying something else, and Validate refuses it.
	if s.Steps == nil {
		s.Steps = DefaultSteps()
	} else {
		steps := make([]Step, len(s.Steps))
		copy(steps, s.Steps)
		for i, st := range steps {
			if st.Analysis != nil && st.Analysis.Measurements == 0 {
				a := *st.Analysis
				a.Measurements = DefaultGateMeasurement
				steps[i].Analysis = &a
			}
		}
		s.Steps = steps
	}
	s.Analysis = s.Analysis.withDefaults()
	return s
}

func (m Smoke) withDefaults() Smoke {
	if m.HealthPath == "" {
		m.HealthPath = DefaultHealthPath
	}
	if m.Endpoints == nil {
		m.Endpoints = append([]string(nil), DefaultEndpoints...)
	}
	if m.Requests == 0 {
		m.Requests = DefaultSmokeRequests
	}
	if m.MaxErrorRate == nil {
		m.MaxErrorRate = ptr(0.05)
	}
	if m.MaxLatencyRatio == 0 {
		m.MaxLatencyRatio = 2
	}
	if m.MaxMemoryMB == 0 {
		m.MaxMemoryMB = 512
	}
	return m
}

func (a Analysis) withDefaults() Analysis {
	if a.Interval == 0 {
		a.Interval = Duration(DefaultInterval)
	}
	if a.Window == 0 {
		a.Window = a.Interval
	}
	t := &a.Thresholds
	if t.MaxErrorRate == nil {
		t.MaxErrorRate = ptr(0.05)
	}
	if t.MaxP95 == 0 {
		t.MaxP95 = Duration(2 * time.Second)
	}
	if t.MaxErrorRateIncrease == nil {
		t.MaxErrorRateIncrease = ptr(0.03)
	}
	if t.MaxLatencyRatio == 0 {
		t.MaxLatencyRatio = 1.5
	}
	if t.MinRequestRate == nil {
		t.MinRequestRate = ptr(0.1)
	}
	l := &a.Limits
	if l.MaxFailures == nil {
		l.MaxFailures = ptr(0)
	}
	if l.MaxInconclusive == nil {
		l.MaxInconclusive = ptr(3)
	}
	if l.MaxConsecutiveErrors == nil {
		l.MaxConsecutiveErrors = ptr(4)
	}
	a.Judging = a.Judging.withDefaults()
	return a
}
