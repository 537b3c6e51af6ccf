package rollout

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Kinds each provider slot accepts; validation names them in its errors.
var (
	DeployKinds  = []string{"local", "helm", "memory"}
	TrafficKinds = []string{"local", "nginx", "gatewayapi", "memory"}
	MetricsKinds = []string{"prometheus", "memory"}
	NotifyKinds  = []string{"log", "slack"}
)

// FieldError is one problem with a spec, at a field path such as "steps[2].setWeight".
type FieldError struct {
	Path string
	Msg  string
}

// Error reads "path: what is wrong and what is allowed".
func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// ValidationError lists every problem found, so a user fixes them in one go.
type ValidationError struct {
	Problems []FieldError
}

// Error lists every problem, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  - " + p.Error()
	}
	return fmt.Sprintf("invalid rollout spec (%d problems):\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

type checker struct{ problems []FieldError }

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	tokenRe     = regexp.MustCompile(`^[!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+$`)
	labelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	metricRe    = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
)

// Validate checks a spec that has had WithDefaults applied and returns a
// *ValidationError listing every problem, or nil.
func (s Spec) Validate() error {
	c := &checker{}
	if s.Version != FormatV1 {
		c.add("version", "must be %q, got %q", FormatV1, s.Version)
	}
	c.dnsLabel("app", s.App)
	c.dnsLabel("namespace", s.Namespace)
	if s.Stable.Version == "" {
		c.add("stable.version", "is required")
	}
	if s.Canary.Version == "" {
		c.add("canary.version", "is required")
	}
	if s.Stable.Version != "" && s.Stable.Version == s.Canary.Version && s.Stable.Image == s.Canary.Image {
		c.add("canary.version", "must differ from stable.version (%q): nothing to roll out", s.Stable.Version)
	}
	c.deploy(s)
	c.traffic(s.Traffic)
	c.metrics(s.Metrics)
	if !slices.Contains(NotifyKinds, s.Notify.Kind) {
		c.add("notify.kind", "must be one of %s, got %q", strings.Join(NotifyKinds, ", "), s.Notify.Kind)
	}
	c.smoke(s.Smoke)
	c.steps(s.Steps, s.Analysis)
	c.analysis(s.Analysis)
	if len(c.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: c.problems}
}

func (c *checker) dnsLabel(path, v string) {
	if v == "" {
		c.add(path, "is required (a Kubernetes name: lower-case letters, digits and '-', at most 63)")
		return
	}
	for _, msg := range validation.IsDNS1123Label(v) {
		c.add(path, "%q is not a valid Kubernetes name: %s", v, msg)
	}
}

func (c *checker) url(path, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.add(path, "must be an absolute http(s) URL, got %q", v)
	}
}

func (c *checker) deploy(s Spec) {
	d := s.Deploy
	if !slices.Contains(DeployKinds, d.Kind) {
		c.add("deploy.kind", "must be one of %s, got %q", strings.Join(DeployKinds, ", "), d.Kind)
	}
	if d.ReadyTimeout <= 0 {
		c.add("deploy.readyTimeout", "must be positive")
	}
	switch d.Kind {
	case "local":
		if d.Local == nil || d.Local.StableAddr == "" || d.Local.CanaryAddr == "" {
			c.add("deploy.local", "stableAddr and canaryAddr (host:port) are required for kind local")
		} else if d.Local.StableAddr == d.Local.CanaryAddr {
			c.add("deploy.local.canaryAddr", "must differ from stableAddr")
		}
	case "helm":
		if d.Helm == nil || d.Helm.Chart == "" {
			c.add("deploy.helm.chart", "is required for kind helm")
		}
		if s.Canary.Image == "" {
			c.add("canary.image", "is required for deploy kind helm")
		}
	}
}

func (c *checker) traffic(t Traffic) {
	if !slices.Contains(TrafficKinds, t.Kind) {
		c.add("traffic.kind", "must be one of %s, got %q", strings.Join(TrafficKinds, ", "), t.Kind)
	}
	if !tokenRe.MatchString(t.Header) {
		c.add("traffic.header", "%q is not a valid HTTP header name", t.Header)
	}
	if !tokenRe.MatchString(t.Cookie) {
		c.add("traffic.cookie", "%q is not a valid cookie name", t.Cookie)
	}
	if t.Kind == "local" {
		if t.Local == nil || t.Local.AdminURL == "" {
			c.add("traffic.local.adminURL", "is required for kind local")
		} else {
			c.url("traffic.local.adminURL", t.Local.AdminURL)
		}
	}
}

func (c *checker) metrics(m Metrics) {
	if !slices.Contains(MetricsKinds, m.Kind) {
		c.add("metrics.kind", "must be one of %s, got %q", strings.Join(MetricsKinds, ", "), m.Kind)
	}
	if m.Kind != "prometheus" || m.Prometheus == nil {
		return
	}
	p := m.Prometheus
	if p.Address != "" {
		c.url("metrics.prometheus.address", p.Address)
	}
	if !metricRe.MatchString(p.Metric) {
		c.add("metrics.prometheus.metric", "%q is not a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", p.Metric)
	}
	for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
		if !labelNameRe.MatchString(k) || strings.HasPrefix(k, "__") {
			c.add("metrics.prometheus.labels."+k, "is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)")
		}
		if k == "version" {
			c.add("metrics.prometheus.labels.version", "is set by canaryflow (stable/canary) and cannot be overridden")
		}
	}
}

func (c *checker) smoke(m Smoke) {
	if m.Skip {
		return
	}
	if m.BaseURL == "" && (m.CanaryURL == "" || m.StableURL == "") {
		c.add("smoke", "set baseURL (both versions through the router), or canaryURL and stableURL, or skip: true")
	}
	for _, f := range []struct{ path, v string }{
		{"smoke.baseURL", m.BaseURL}, {"smoke.canaryURL", m.CanaryURL}, {"smoke.stableURL", m.StableURL},
	} {
		if f.v != "" {
			c.url(f.path, f.v)
		}
	}
	if !strings.HasPrefix(m.HealthPath, "/") {
		c.add("smoke.healthPath", "must start with '/', got %q", m.HealthPath)
	}
	for i, e := range m.Endpoints {
		if !strings.HasPrefix(e, "/") {
			c.add(fmt.Sprintf("smoke.endpoints[%d]", i), "must start with '/', got %q", e)
		}
	}
	if m.Requests < 1 || m.Requests > 1000 {
		c.add("smoke.requests", "must be between 1 and 1000, got %d", m.Requests)
	}
	if m.MaxErrorRate != nil && (*m.MaxErrorRate < 0 || *m.MaxErrorRate > 1) {
		c.add("smoke.maxErrorRate", "must be a fraction between 0 and 1, got %g", *m.MaxErrorRate)
	}
	if m.MaxLatencyRatio < 1 {
		c.add("smoke.maxLatencyRatio", "must be at least 1, got %g", m.MaxLatencyRatio)
	}
	if m.MaxMemoryMB <= 0 {
		c.add("smoke.maxMemoryMB", "must be positive, got %g", m.MaxMemoryMB)
	}
}

func (c *checker) steps(steps []Step, a Analysis) {
	last, sawWeight := 0, false
	for i, st := range steps {
		path := fmt.Sprintf("steps[%d]", i)
		set := 0
		for _, b := range []bool{st.SetWeight != nil, st.Pause != nil, st.Analysis != nil} {
			if b {
				set++
			}
		}
		if set != 1 {
			c.add(path, "must have exactly one of setWeight, pause, analysis (has %d)", set)
			continue
		}
		switch {
		case st.SetWeight != nil:
			w := *st.SetWeight
			if w < 1 || w > 100 {
				c.add(path+".setWeight", "must be between 1 and 100, got %d", w)
			} else if w < last {
				c.add(path+".setWeight", "must not decrease: %d follows %d", w, last)
			}
			last, sawWeight = max(last, w), true
		case st.Pause != nil:
			c.pause(path+".pause", *st.Pause, a)
		case st.Analysis != nil:
			if st.Analysis.Measurements < 1 || st.Analysis.Measurements > 100 {
				c.add(path+".analysis.measurements", "must be between 1 and 100, got %d", st.Analysis.Measurements)
			}
			if !sawWeight {
				c.add(path+".analysis", "must come after a setWeight step: with no canary traffic there is nothing to measure")
			}
		}
	}
	if !sawWeight {
		c.add("steps", "need at least one setWeight step")
	}
}

func (c *checker) pause(path string, p Pause, a Analysis) {
	if p.Duration < 0 {
		c.add(path+".duration", "must be positive, got %s", p.Duration.D())
	}
	if p.Timeout < 0 {
		c.add(path+".timeout", "must be positive, got %s", p.Timeout.D())
	}
	if p.Duration > 0 && (p.Timeout != 0 || p.OnTimeout != "") {
		c.add(path, "a timed pause (duration) cannot also have timeout/onTimeout; those belong to approval waits")
	}
	if p.Duration > 0 && a.Interval > 0 && p.Duration < a.Interval {
		c.add(path+".duration", "%s is shorter than analysis.interval (%s): the hold would pass unmeasured", p.Duration.D(), a.Interval.D())
	}
	switch {
	case p.OnTimeout != "" && p.Timeout == 0:
		c.add(path+".onTimeout", "needs a timeout")
	case p.Timeout > 0 && p.OnTimeout != OnTimeoutAbort && p.OnTimeout != OnTimeoutProceed:
		c.add(path+".onTimeout", "must be %q or %q, got %q", OnTimeoutAbort, OnTimeoutProceed, p.OnTimeout)
	}
}

func (c *checker) analysis(a Analysis) {
	if a.Interval < Duration(time.Second) {
		c.add("analysis.interval", "must be at least 1s (each measurement is several Prometheus queries), got %s", a.Interval.D())
	}
	if a.Window < Duration(time.Second) {
		c.add("analysis.window", "must be at least 1s, got %s", a.Window.D())
	}
	t := a.Thresholds
	frac := func(path string, v *float64, lo float64) {
		if v != nil && (*v < lo || *v > 1) {
			c.add(path, "must be a fraction between %g and 1, got %g", lo, *v)
		}
	}
	if t.MaxErrorRate != nil && *t.MaxErrorRate == 0 {
		c.add("analysis.thresholds.maxErrorRate", "must be above 0: a single error would fail the canary")
	}
	frac("analysis.thresholds.maxErrorRate", t.MaxErrorRate, 0)
	frac("analysis.thresholds.maxErrorRateIncrease", t.MaxErrorRateIncrease, 0)
	if t.MaxP95 <= 0 {
		c.add("analysis.thresholds.maxP95", "must be positive, got %s", t.MaxP95.D())
	}
	if t.MaxLatencyRatio < 1 {
		c.add("analysis.thresholds.maxLatencyRatio", "must be at least 1, got %g", t.MaxLatencyRatio)
	}
	if t.MinRequestRate != nil && *t.MinRequestRate < 0 {
		c.add("analysis.thresholds.minRequestRate", "must not be negative, got %g", *t.MinRequestRate)
	}
	l := a.Limits
	for _, f := range []struct {
		path string
		v    *int
	}{
		{"analysis.limits.maxFailures", l.MaxFailures},
		{"analysis.limits.maxInconclusive", l.MaxInconclusive},
		{"analysis.limits.maxConsecutiveErrors", l.MaxConsecutiveErrors},
	} {
		if f.v != nil && (*f.v < 0 || *f.v > 1000) {
			c.add(f.path, "must be between 0 and 1000, got %d", *f.v)
		}
	}
}
