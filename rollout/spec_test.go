package rollout

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReferencePlan(t *testing.T) {
	data, err := os.ReadFile("../examples/reference.yaml")
	require.NoError(t, err)
	s, err := Parse(data)
	require.NoError(t, err)
	assert.Equal(t, "X-Canary", s.Traffic.Header)
	assert.Equal(t, "canary", s.Traffic.Cookie)
	assert.Equal(t, "http_request_duration_seconds", s.Metrics.Prometheus.Metric)
	assert.Equal(t, []string{"/api/properties", "/api/users", "/metrics"}, s.Smoke.Endpoints)
	assert.Equal(t, 20, s.Smoke.Requests)
	require.Len(t, s.Steps, 7)
	assert.Equal(t, "pause until approved (timeout 1h0m0s, then abort)", s.Steps[6].Describe())
	th := s.Analysis.Thresholds
	assert.Equal(t, 0.05, *th.MaxErrorRate)
	assert.Equal(t, 2*time.Second, th.MaxP95.D())
	assert.Equal(t, 0.03, *th.MaxErrorRateIncrease)
	assert.Equal(t, 1.5, th.MaxLatencyRatio)
	assert.Equal(t, time.Minute, s.Analysis.Window.D())
}

func TestDefaultsAreTheReferencePlan(t *testing.T) {
	s := Spec{}.WithDefaults()
	var got []string
	for _, st := range s.Steps {
		got = append(got, st.Describe())
	}
	assert.Equal(t, []string{"setWeight 10", "pause 15m0s", "setWeight 25", "pause 10m0s", "setWeight 50", "pause 15m0s"}, got)
	assert.Equal(t, time.Minute, s.Analysis.Interval.D())
}

func TestInvalidSpecListsEveryProblem(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid.yaml")
	require.NoError(t, err)
	_, err = Parse(data)
	var v *ValidationError
	require.True(t, errors.As(err, &v), "got %v", err)
	paths := map[string]string{}
	for _, p := range v.Problems {
		paths[p.Path] = p.Msg
	}
	want := map[string]string{
		"version":                             `must be "canaryflow/v1", got "canaryflow/v2"`,
		"canary.version":                      `must differ from stable.version ("v1"): nothing to roll out`,
		"deploy.kind":                         `must be one of local, helm, memory, got "docker"`,
		"traffic.header":                      `"X Canary" is not a valid HTTP header name`,
		"metrics.prometheus.metric":           `"http-requests" is not a valid Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`,
		"notify.kind":                         `must be one of log, slack, got "pager"`,
		"smoke.requests":                      "must be between 1 and 1000, got -1",
		"smoke.endpoints[0]":                  `must start with '/', got "api/users"`,
		"steps[1].setWeight":                  "must not decrease: 20 follows 50",
		"steps[2].setWeight":                  "must be between 1 and 100, got 120",
		"steps[3].pause.duration":             "10s is shorter than analysis.interval (1m0s): the hold would pass unmeasured",
		"steps[4].pause.onTimeout":            "needs a timeout",
		"steps[5]":                            "must have exactly one of setWeight, pause, analysis (has 0)",
		"analysis.thresholds.maxErrorRate":    "must be a fraction above 0 (a single error would fail the canary) and at most 0.5, got 1.5",
		"analysis.thresholds.maxLatencyRatio": "must be above 1 and at most 10, got 0.5",
	}
	for path, msg := range want {
		assert.Equal(t, msg, paths[path], "problem at %s", path)
	}
	assert.Contains(t, paths["app"], `"Agence_Immo" is not a valid Kubernetes name`)
	assert.Contains(t, paths["metrics.prometheus.labels.__name__"], "not a valid Prometheus label name")
	assert.Contains(t, paths["deploy.helm.chart"], "") // helm not chosen: no such problem
	assert.Contains(t, err.Error(), "invalid rollout spec (")
}

func TestUnknownFieldsAreRejected(t *testing.T) {
	_, err := Parse([]byte("version: canaryflow/v1\napp: a\nnamespace: b\nsteps:\n  - setWeigth: 10\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "setWeigth"`)
}

func TestBadDurationNamesTheFormat(t *testing.T) {
	_, err := Parse([]byte("version: canaryflow/v1\nanalysis:\n  interval: 5\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `analysis.interval`)
	assert.Contains(t, err.Error(), `a duration is a string such as "30s"`)
}

func TestApprovalTimeoutNeedsAnAction(t *testing.T) {
	s := validSpec()
	s.Steps = []Step{Weight(10), {Pause: &Pause{Timeout: Duration(time.Hour)}}}
	err := s.WithDefaults().Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `steps[1].pause.onTimeout: must be "abort" or "proceed", got ""`)
}

func TestAnalysisStepNeedsTrafficFirst(t *testing.T) {
	s := validSpec()
	s.Steps = []Step{Gate(3), Weight(10)}
	err := s.WithDefaults().Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "steps[0].analysis: must come after a setWeight step")
}

func validSpec() Spec {
	return Spec{
		Version: FormatV1, App: "shop", Namespace: "prod",
		Stable: Release{Version: "v1"}, Canary: Release{Version: "v2"},
		Deploy: Deploy{Kind: "memory"}, Traffic: Traffic{Kind: "memory"}, Metrics: Metrics{Kind: "memory"},
		Smoke: Smoke{Skip: true},
	}
}

func TestValidSpecPasses(t *testing.T) {
	require.NoError(t, validSpec().WithDefaults().Validate())
}

func TestExamplesAreValid(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 4)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = Parse(data)
		assert.NoError(t, err, f)
	}
}
