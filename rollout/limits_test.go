package rollout

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fullSpec sets every section a limit applies to, so each limit is reached.
func fullSpec() Spec {
	s := validSpec()
	s.Deploy = Deploy{Kind: "local", Local: &LocalDeploy{StableAddr: "127.0.0.1:1", CanaryAddr: "127.0.0.1:2", Args: []string{"-v"}},
		Helm: &HelmDeploy{Chart: "./chart", Release: "shop"}}
	s.Traffic = Traffic{Kind: "local", Local: &LocalTraffic{AdminURL: "http://router:8090"}}
	s.Metrics = Metrics{Kind: "prometheus", Prometheus: &PrometheusMetrics{Address: "http://prom:9090", Labels: map[string]string{"app": "shop"}}}
	s.Smoke = Smoke{BaseURL: "http://shop"}
	s.Notify.Channel = "#deploys"
	return s
}

// problemsAt returns the messages of err's problems at path.
func problemsAt(t *testing.T, err error, path string) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var v *ValidationError
	require.True(t, errors.As(err, &v), "got %v", err)
	var out []string
	for _, p := range v.Problems {
		if p.Path == path {
			out = append(out, p.Msg)
		}
	}
	return out
}

func str(n float64) string { return strings.Repeat("a", int(n)) }

// urlOf is an http URL exactly n bytes long.
func urlOf(n float64) string { return "http://h/" + strings.Repeat("p", int(n)-len("http://h/")) }

func dur(v float64) Duration { return Duration(time.Duration(v)) }

func ptrf(v float64) *float64 { return &v }

func ptri(v float64) *int { i := int(v); return &i }

func weights(n float64) []Step {
	steps := make([]Step, int(n))
	for i := range steps {
		steps[i] = Weight(10)
	}
	return steps
}

// bound is one limit: values at it and just inside must pass, values just
// outside must be refused at path with a message naming the limit.
type bound struct {
	path string
	set  func(s *Spec, v float64)
	ok   []float64
	bad  []float64
	want string
}

var sec, hour = float64(time.Second), float64(time.Hour)

var bounds = []bound{
	{"steps", func(s *Spec, v float64) { s.Steps = weights(v) }, []float64{100, 99}, []float64{101, 3000}, "maximum is 100"},
	{"steps[1].analysis.measurements", func(s *Spec, v float64) { s.Steps = []Step{Weight(10), Gate(int(v))} }, []float64{100, 99, 1}, []float64{101, 0}, "between 1 and 100"},
	{"steps[1].pause.duration", func(s *Spec, v float64) { s.Steps = []Step{Weight(10), Hold(time.Duration(v))} }, []float64{7 * 24 * hour, 7*24*hour - sec}, []float64{7*24*hour + sec, 10 * 365 * 24 * hour}, "168h0m0s"},
	{"steps[1].pause.timeout", func(s *Spec, v float64) { s.Steps = []Step{Weight(10), ApprovalGate(time.Duration(v), OnTimeoutAbort)} }, []float64{7 * 24 * hour, 7*24*hour - sec}, []float64{7*24*hour + sec}, "168h0m0s"},
	{"deploy.readyTimeout", func(s *Spec, v float64) { s.Deploy.ReadyTimeout = dur(v) }, []float64{2 * hour, 2*hour - sec}, []float64{2*hour + sec}, "2h0m0s"},
	{"analysis.interval", func(s *Spec, v float64) { s.Analysis.Interval = dur(v) }, []float64{hour, hour - sec, sec}, []float64{hour + sec, sec - 1}, "between 1s and 1h0m0s"},
	{"analysis.window", func(s *Spec, v float64) { s.Analysis.Window = dur(v) }, []float64{hour, hour - sec, sec}, []float64{hour + sec, sec - 1}, "between 1s and 1h0m0s"},

	{"smoke.endpoints", func(s *Spec, v float64) { s.Smoke.Endpoints = make([]string, int(v)); fill(s.Smoke.Endpoints, "/x") }, []float64{20, 19, 1}, []float64{21, 0}, "endpoint"},
	{"smoke.requests", func(s *Spec, v float64) { s.Smoke.Requests = int(v) }, []float64{1000, 999, 1}, []float64{1001, 0}, "between 1 and 1000"},
	{"smoke.maxMemoryMB", func(s *Spec, v float64) { s.Smoke.MaxMemoryMB = v }, []float64{65536, 65535}, []float64{65537, 0}, "at most 65536"},
	{"smoke.maxErrorRate", func(s *Spec, v float64) { s.Smoke.MaxErrorRate = ptrf(v) }, []float64{0.5, 0.4999, 0}, []float64{0.5001, 1, -0.1}, "between 0 and 0.5"},
	{"smoke.maxLatencyRatio", func(s *Spec, v float64) { s.Smoke.MaxLatencyRatio = v }, []float64{10, 9.99, 1.01}, []float64{10.01, 1, 0.5}, "above 1 and at most 10"},
	{"smoke.healthPath", func(s *Spec, v float64) { s.Smoke.HealthPath = "/" + str(v-1) }, []float64{256, 255}, []float64{257}, "maximum is 256"},
	{"smoke.endpoints[0]", func(s *Spec, v float64) { s.Smoke.Endpoints = []string{"/" + str(v-1)} }, []float64{256, 255}, []float64{257}, "maximum is 256"},
	{"smoke.baseURL", func(s *Spec, v float64) { s.Smoke.BaseURL = urlOf(v) }, []float64{2048, 2047}, []float64{2049}, "maximum is 2048"},

	{"metrics.prometheus.labels", func(s *Spec, v float64) {
		s.Metrics.Prometheus.Labels = map[string]string{}
		for i := range int(v) {
			s.Metrics.Prometheus.Labels[fmt.Sprintf("l%d", i)] = "x"
		}
	}, []float64{16, 15}, []float64{17}, "maximum is 16"},
	{"metrics.prometheus.labels.app", func(s *Spec, v float64) { s.Metrics.Prometheus.Labels = map[string]string{"app": str(v)} }, []float64{256, 255}, []float64{257}, "maximum is 256"},
	{"metrics.prometheus.labels", func(s *Spec, v float64) { s.Metrics.Prometheus.Labels = map[string]string{str(v): "x"} }, []float64{128, 127}, []float64{129}, "maximum is 128"},
	{"metrics.prometheus.metric", func(s *Spec, v float64) { s.Metrics.Prometheus.Metric = str(v) }, []float64{128, 127}, []float64{129}, "maximum is 128"},
	{"metrics.prometheus.address", func(s *Spec, v float64) { s.Metrics.Prometheus.Address = urlOf(v) }, []float64{2048, 2047}, []float64{2049}, "maximum is 2048"},
	{"traffic.header", func(s *Spec, v float64) { s.Traffic.Header = str(v) }, []float64{128, 127}, []float64{129}, "maximum is 128"},
	{"traffic.cookie", func(s *Spec, v float64) { s.Traffic.Cookie = str(v) }, []float64{128, 127}, []float64{129}, "maximum is 128"},
	{"traffic.local.adminURL", func(s *Spec, v float64) { s.Traffic.Local.AdminURL = urlOf(v) }, []float64{2048, 2047}, []float64{2049}, "maximum is 2048"},
	{"canary.version", func(s *Spec, v float64) { s.Canary.Version = str(v) }, []float64{256, 255}, []float64{257}, "maximum is 256"},
	{"stable.image", func(s *Spec, v float64) { s.Stable.Image = str(v) }, []float64{256, 255}, []float64{257}, "maximum is 256"},
	{"notify.channel", func(s *Spec, v float64) { s.Notify.Channel = str(v) }, []float64{256, 255}, []float64{257}, "maximum is 256"},
	{"deploy.helm.chart", func(s *Spec, v float64) { s.Deploy.Helm.Chart = str(v) }, []float64{2048, 2047}, []float64{2049}, "maximum is 2048"},
	{"deploy.helm.release", func(s *Spec, v float64) { s.Deploy.Helm.Release = str(v) }, []float64{53, 52}, []float64{54}, "at most 53 characters"},
	{"deploy.local.stableAddr", func(s *Spec, v float64) { s.Deploy.Local.StableAddr = str(v) }, []float64{256, 255}, []float64{257}, "maximum is 256"},
	{"deploy.local.args", func(s *Spec, v float64) { s.Deploy.Local.Args = make([]string, int(v)) }, []float64{32, 31}, []float64{33}, "maximum is 32"},
	{"deploy.local.args[0]", func(s *Spec, v float64) { s.Deploy.Local.Args = []string{str(v)} }, []float64{256, 255}, []float64{257}, "maximum is 256"},

	{"analysis.thresholds.maxErrorRate", func(s *Spec, v float64) { s.Analysis.Thresholds.MaxErrorRate = ptrf(v) }, []float64{0.5, 0.4999, 0.0001}, []float64{0.5001, 1, 0}, "at most 0.5"},
	{"analysis.thresholds.maxErrorRateIncrease", func(s *Spec, v float64) { s.Analysis.Thresholds.MaxErrorRateIncrease = ptrf(v) }, []float64{0.5, 0.4999, 0}, []float64{0.5001, 1, -0.01}, "between 0 and 0.5"},
	{"analysis.thresholds.maxP95", func(s *Spec, v float64) { s.Analysis.Thresholds.MaxP95 = dur(v) }, []float64{30 * sec, 30*sec - 1, float64(time.Millisecond)}, []float64{30*sec + 1, float64(time.Millisecond) - 1, 0}, "between 1ms and 30s"},
	{"analysis.thresholds.maxLatencyRatio", func(s *Spec, v float64) { s.Analysis.Thresholds.MaxLatencyRatio = v }, []float64{10, 9.99, 1.01}, []float64{10.01, 1, 0.9}, "above 1 and at most 10"},
	{"analysis.thresholds.minRequestRate", func(s *Spec, v float64) { s.Analysis.Thresholds.MinRequestRate = ptrf(v) }, []float64{1e6, 1e6 - 1, 0.001}, []float64{1e6 + 1, 0, -1}, "above 0"},
	{"analysis.limits.maxFailures", func(s *Spec, v float64) { s.Analysis.Limits.MaxFailures = ptri(v) }, []float64{10, 9, 0}, []float64{11, -1, 1000}, "between 0 and 10"},
	{"analysis.limits.maxInconclusive", func(s *Spec, v float64) { s.Analysis.Limits.MaxInconclusive = ptri(v) }, []float64{20, 19, 0}, []float64{21, 1000}, "between 0 and 20"},
	{"analysis.limits.maxConsecutiveErrors", func(s *Spec, v float64) { s.Analysis.Limits.MaxConsecutiveErrors = ptri(v) }, []float64{20, 19, 0}, []float64{21, 1000}, "between 0 and 20"},
}

func fill(s []string, v string) {
	for i := range s {
		s[i] = v
	}
}

func TestEveryLimitIsEnforcedAtItsBoundary(t *testing.T) {
	require.NoError(t, fullSpec().WithDefaults().Validate(), "the base spec is valid")
	for _, b := range bounds {
		t.Run(b.path, func(t *testing.T) {
			for _, v := range b.ok {
				s := fullSpec().WithDefaults()
				b.set(&s, v)
				assert.Empty(t, problemsAt(t, s.Validate(), b.path), "%g must be accepted", v)
			}
			for _, v := range b.bad {
				s := fullSpec().WithDefaults()
				b.set(&s, v)
				got := problemsAt(t, s.Validate(), b.path)
				if assert.NotEmpty(t, got, "%g must be refused", v) {
					assert.Contains(t, got[0], b.want, "the refusal of %g names the limit", v)
				}
			}
		})
	}
}

func TestAProblemListIsBounded(t *testing.T) {
	s := validSpec().WithDefaults()
	s.Steps = nil
	for range 80 {
		s.Steps = append(s.Steps, Weight(0))
	}
	var v *ValidationError
	require.ErrorAs(t, s.Validate(), &v)
	require.Len(t, v.Problems, MaxProblems+1)
	last := v.Problems[MaxProblems]
	assert.Equal(t, "spec", last.Path)
	assert.Contains(t, last.Msg, "more problems not listed")
}

func TestAHugeValueIsNotQuotedBack(t *testing.T) {
	s := validSpec().WithDefaults()
	s.Notify.Kind = strings.Repeat("k", 100000)
	err := s.Validate()
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 1000)
}

func TestKubernetesNamesAreChecked(t *testing.T) {
	s := fullSpec()
	s.Traffic.Kind = "gatewayapi"
	s.Traffic.GatewayAPI = &GatewayAPITraffic{Route: "Not_A_Name"}
	s.Traffic.Nginx = &NginxTraffic{Ingress: "../x"}
	err := s.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "traffic.gatewayapi.route")
	assert.Contains(t, err.Error(), "traffic.nginx.ingress")
	s = fullSpec()
	assert.Equal(t, "shop", s.ReleaseName())
	assert.Equal(t, "shop-canary", s.IngressName())
	assert.Equal(t, "shop", s.RouteName())
	assert.Equal(t, "shop-stable", s.RoleObject(RoleStable))
}

func TestLabelsTheQueriesOwnAreRefused(t *testing.T) {
	for _, name := range []string{"version", "code", "le"} {
		s := fullSpec()
		s.Metrics.Prometheus.Labels = map[string]string{name: "1"}
		assert.NotEmpty(t, problemsAt(t, s.Validate(), "metrics.prometheus.labels."+name), name)
	}
}
