package rollout

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

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

// length refuses a string longer than limit bytes, without quoting it back:
// the point is that it is too long to print.
func (c *checker) length(path, v string, limit int) bool {
	if len(v) > limit {
		c.add(path, "is %d bytes long; the maximum is %d", len(v), limit)
		return false
	}
	return true
}

// errorOf lists the problems found, at most MaxProblems of them, or is nil.
func (c *checker) errorOf() error {
	if len(c.problems) == 0 {
		return nil
	}
	p := c.problems
	if len(p) > MaxProblems {
		more := len(p) - MaxProblems
		p = append(p[:MaxProblems:MaxProblems], FieldError{Path: "spec", Msg: fmt.Sprintf("%d more problems not listed", more)})
	}
	return &ValidationError{Problems: p}
}

var (
	tokenRe     = regexp.MustCompile(`^[!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+$`)
	labelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	metricRe    = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
)

// Validate checks a spec that has had WithDefaults applied and returns a
// *ValidationError listing every problem (up to MaxProblems), or nil.
func (s Spec) Validate() error {
	c := &checker{}
	if s.Version != FormatV1 {
		c.add("version", "must be %q, got %q", FormatV1, trunc(s.Version))
	}
	c.dnsLabel("app", s.App)
	c.dnsLabel("namespace", s.Namespace)
	c.release("stable", s.Stable)
	c.release("canary", s.Canary)
	if s.Stable.Version != "" && s.Stable.Version == s.Canary.Version && s.Stable.Image == s.Canary.Image {
		c.add("canary.version", "must differ from stable.version (%q): nothing to roll out", trunc(s.Stable.Version))
	}
	c.deploy(s)
	c.kube(s)
	c.traffic(s.Traffic)
	c.metrics(s.Metrics)
	if !slices.Contains(NotifyKinds, s.Notify.Kind) {
		c.add("notify.kind", "must be one of %s, got %q", strings.Join(NotifyKinds, ", "), trunc(s.Notify.Kind))
	}
	c.length("notify.channel", s.Notify.Channel, MaxValueLen)
	c.smoke(s.Smoke)
	c.steps(s.Steps, s.Analysis)
	c.analysis(s.Analysis)
	c.customMetrics(s.Analysis.Metrics, s.Metrics.Kind, s.Analysis.Judging.Method)
	return c.errorOf()
}

// trunc shortens a value quoted back in an error, so a huge one does not
// make the error huge.
func trunc(v string) string {
	const keep = 64
	if len(v) <= keep {
		return v
	}
	return v[:keep] + "…"
}

func (c *checker) dnsLabel(path, v string) {
	if v == "" {
		c.add(path, "is required (a Kubernetes name: lower-case letters, digits and '-', at most 63)")
		return
	}
	for _, msg := range validation.IsDNS1123Label(v) {
		c.add(path, "%q is not a valid Kubernetes name: %s", trunc(v), msg)
	}
}

func (c *checker) release(path string, r Release) {
	if r.Version == "" {
		c.add(path+".version", "is required")
	}
	c.length(path+".version", r.Version, MaxValueLen)
	c.length(path+".image", r.Image, MaxValueLen)
}

// url refuses anything but an absolute http(s) URL without credentials;
// where says where this field's credentials go instead. The value is quoted
// back redacted: it may carry credentials.
func (c *checker) url(path, v, where string) {
	if !c.length(path, v, MaxURLLen) {
		return
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.add(path, "must be an absolute http(s) URL, got %q", trunc(RedactURL(v)))
		return
	}
	c.noCredentials(path, u, where)
}

// Where each URL field's credentials go instead of the spec, for the
// refusal's message.
const (
	prometheusCredentials = "give them to the worker — --prometheus-url / PROMETHEUS_URL as http://user:password@host:port " +
		"for basic auth, or --prometheus-token / PROMETHEUS_TOKEN for a bearer token; the worker sends them to that host only, " +
		"when the spec names the same scheme, host and port or no address"
	routerCredentials = "the local router's admin API takes none; keep it on an address only the worker reaches"
	smokeCredentials  = "smoke tests send none; point them at endpoints that answer without"
)

// credentialParams are query parameter names that by convention carry a
// secret, compared case-insensitively with '-' read as '_'. The short ones
// must match whole ("monkey", "author" and "design" are not secrets);
// credentialWords match anywhere in a name ("access_token", "X-Amz-Signature",
// "client_secret").
var (
	credentialParams = []string{"key", "sig", "auth", "authorization", "pass", "pwd"}
	credentialWords  = []string{"token", "secret", "password", "passwd", "signature", "credential", "apikey", "api_key"}
)

// credentialParam reports whether a query parameter name looks like one
// that carries a secret.
func credentialParam(name string) bool {
	n := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	if slices.Contains(credentialParams, n) {
		return true
	}
	return slices.ContainsFunc(credentialWords, func(w string) bool { return strings.Contains(n, w) })
}

// noCredentials refuses a URL that carries a secret: a user name or
// password, a query parameter whose name looks like a credential, or a
// fragment (never sent to a server, so it can only be something to hide).
// The spec is the workflow's input and parts of it are activity inputs:
// whatever it holds is stored in the rollout's history for good. Nothing of
// the value is quoted back but a parameter's name.
func (c *checker) noCredentials(path string, u *url.URL, where string) {
	refuse := func(found string) {
		c.add(path, "must not carry credentials (the spec is stored in the rollout's history), found %s: %s", found, where)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			refuse("user:password@")
		} else {
			refuse("a user name (user@)")
		}
	}
	c.noCredentialParams(path, u.RawQuery, where)
	if u.Fragment != "" {
		refuse("a #fragment")
	}
}

// noCredentialParams refuses each query parameter of rawQuery whose name
// looks like a credential; other parameters are allowed.
func (c *checker) noCredentialParams(path, rawQuery, where string) {
	for _, item := range strings.FieldsFunc(rawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		name, _, _ := strings.Cut(item, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			// The server reads the name unescaped: "to%6Ben" is "token".
			name = n
		}
		if credentialParam(name) {
			c.add(path, "must not carry credentials (the spec is stored in the rollout's history), found query parameter %q: %s",
				trunc(name), where)
		}
	}
}

func (c *checker) deploy(s Spec) {
	d := s.Deploy
	if !slices.Contains(DeployKinds, d.Kind) {
		c.add("deploy.kind", "must be one of %s, got %q", strings.Join(DeployKinds, ", "), trunc(d.Kind))
	}
	if d.ReadyTimeout <= 0 || d.ReadyTimeout.D() > MaxReadyTimeout {
		c.add("deploy.readyTimeout", "must be positive and at most %s, got %s", MaxReadyTimeout, d.ReadyTimeout.D())
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
	if l := d.Local; l != nil {
		c.length("deploy.local.stableAddr", l.StableAddr, MaxValueLen)
		c.length("deploy.local.canaryAddr", l.CanaryAddr, MaxValueLen)
		if len(l.Args) > MaxLocalArgs {
			c.add("deploy.local.args", "has %d arguments; the maximum is %d", len(l.Args), MaxLocalArgs)
		}
		for i, a := range l.Args {
			c.length(fmt.Sprintf("deploy.local.args[%d]", i), a, MaxValueLen)
		}
	}
	if h := d.Helm; h != nil {
		c.length("deploy.helm.chart", h.Chart, MaxURLLen)
		c.length("deploy.helm.release", h.Release, MaxValueLen)
	}
}

func (c *checker) traffic(t Traffic) {
	if !slices.Contains(TrafficKinds, t.Kind) {
		c.add("traffic.kind", "must be one of %s, got %q", strings.Join(TrafficKinds, ", "), trunc(t.Kind))
	}
	if c.length("traffic.header", t.Header, MaxNameLen) && !tokenRe.MatchString(t.Header) {
		c.add("traffic.header", "%q is not a valid HTTP header name", t.Header)
	}
	if c.length("traffic.cookie", t.Cookie, MaxNameLen) && !tokenRe.MatchString(t.Cookie) {
		c.add("traffic.cookie", "%q is not a valid cookie name", t.Cookie)
	}
	if t.Kind == "local" {
		if t.Local == nil || t.Local.AdminURL == "" {
			c.add("traffic.local.adminURL", "is required for kind local")
		} else {
			c.url("traffic.local.adminURL", t.Local.AdminURL, routerCredentials)
		}
	}
}

func (c *checker) metrics(m Metrics) {
	if !slices.Contains(MetricsKinds, m.Kind) {
		c.add("metrics.kind", "must be one of %s, got %q", strings.Join(MetricsKinds, ", "), trunc(m.Kind))
	}
	if m.Kind != "prometheus" || m.Prometheus == nil {
		return
	}
	p := m.Prometheus
	if p.Address != "" {
		c.url("metrics.prometheus.address", p.Address, prometheusCredentials)
	}
	if c.length("metrics.prometheus.metric", p.Metric, MaxNameLen) && !metricRe.MatchString(p.Metric) {
		c.add("metrics.prometheus.metric", "%q is not a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", p.Metric)
	}
	if len(p.Labels) > MaxLabels {
		c.add("metrics.prometheus.labels", "has %d labels; the maximum is %d", len(p.Labels), MaxLabels)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
		if len(k) > MaxNameLen {
			c.add("metrics.prometheus.labels", "a label name is %d bytes long; the maximum is %d", len(k), MaxNameLen)
			continue
		}
		path := "metrics.prometheus.labels." + k
		if !labelNameRe.MatchString(k) || strings.HasPrefix(k, "__") {
			c.add(path, "is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)")
		}
		switch k {
		case "version":
			c.add("metrics.prometheus.labels.version", "is set by canaryflow (stable/canary) and cannot be overridden")
		case "code", "le":
			// The queries match these themselves: code="200" would make every
			// error rate 0, le="1" would empty the latency figures.
			c.add(path, "is matched by canaryflow's queries (5xx codes, histogram buckets) and cannot be set")
		}
		c.length(path, p.Labels[k], MaxValueLen)
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
			c.url(f.path, f.v, smokeCredentials)
		}
	}
	c.path("smoke.healthPath", m.HealthPath)
	switch {
	case len(m.Endpoints) == 0:
		c.add("smoke.endpoints", "is empty: list at least one endpoint, or remove the key for the defaults (%s)", strings.Join(DefaultEndpoints, ", "))
	case len(m.Endpoints) > MaxSmokeEndpoints:
		c.add("smoke.endpoints", "has %d endpoints; the maximum is %d", len(m.Endpoints), MaxSmokeEndpoints)
	default:
		for i, e := range m.Endpoints {
			c.path(fmt.Sprintf("smoke.endpoints[%d]", i), e)
		}
	}
	if m.Requests < 1 || m.Requests > MaxSmokeRequests {
		c.add("smoke.requests", "must be between 1 and %d, got %d", MaxSmokeRequests, m.Requests)
	}
	if m.MaxErrorRate != nil && !(*m.MaxErrorRate >= 0 && *m.MaxErrorRate <= MaxErrorRateLimit) {
		c.add("smoke.maxErrorRate", "must be a fraction between 0 and %g, got %g", MaxErrorRateLimit, *m.MaxErrorRate)
	}
	c.ratio("smoke.maxLatencyRatio", m.MaxLatencyRatio)
	if !(m.MaxMemoryMB > 0 && m.MaxMemoryMB <= MaxSmokeMemoryMB) {
		c.add("smoke.maxMemoryMB", "must be positive and at most %d, got %g", MaxSmokeMemoryMB, m.MaxMemoryMB)
	}
}

// path checks a smoke path, which is joined to the smoke URLs and may carry
// a query string: credentials are refused there as in the URLs.
func (c *checker) path(path, v string) {
	if !c.length(path, v, MaxValueLen) {
		return
	}
	if !strings.HasPrefix(v, "/") {
		c.add(path, "must start with '/', got %q", trunc(RedactURL(v)))
		return
	}
	if _, query, ok := strings.Cut(v, "?"); ok {
		query, _, _ = strings.Cut(query, "#")
		c.noCredentialParams(path, query, smokeCredentials)
	}
	if _, frag, ok := strings.Cut(v, "#"); ok && frag != "" {
		c.add(path, "must not carry credentials (the spec is stored in the rollout's history), found a #fragment: %s", smokeCredentials)
	}
}

func (c *checker) steps(steps []Step, a Analysis) {
	switch {
	case len(steps) == 0:
		c.add("steps", "is empty: list the plan's steps, or remove the key for the default plan")
		return
	case len(steps) > MaxSteps:
		// Every step is history; one problem says it, not one per step.
		c.add("steps", "has %d steps; the maximum is %d", len(steps), MaxSteps)
		return
	}
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
			if st.Analysis.Measurements < 1 || st.Analysis.Measurements > MaxGateMeasurements {
				c.add(path+".analysis.measurements", "must be between 1 and %d, got %d", MaxGateMeasurements, st.Analysis.Measurements)
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
	if p.Duration < 0 || p.Duration.D() > MaxPause {
		c.add(path+".duration", "must be between 0 (wait for approval) and %s, got %s", MaxPause, p.Duration.D())
	}
	if p.Timeout < 0 || p.Timeout.D() > MaxPause {
		c.add(path+".timeout", "must be between 0 (wait forever) and %s, got %s", MaxPause, p.Timeout.D())
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
		c.add(path+".onTimeout", "must be %q or %q, got %q", OnTimeoutAbort, OnTimeoutProceed, trunc(p.OnTimeout))
	}
}
