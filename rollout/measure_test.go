package rollout

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func figures(rate, errs, p95 float64) VersionFigures {
	return VersionFigures{RequestRate: Value(rate), ErrorRate: Value(errs), P95: Value(p95), P99: Value(p95 * 1.5)}
}

func TestEvaluate(t *testing.T) {
	th := Spec{}.WithDefaults().Analysis.Thresholds
	stable := figures(20, 0.01, 0.1)
	cases := []struct {
		name   string
		canary VersionFigures
		stable VersionFigures
		want   Verdict
		reason string
	}{
		{"healthy", figures(2, 0.01, 0.11), stable, Successful, ""},
		{"absolute error rate", figures(2, 0.051, 0.1), figures(20, 0.04, 0.1), Failed, "canary error rate 5.10% > 5.00%"},
		{"absolute p95", figures(2, 0, 2.1), figures(20, 0, 2.0), Failed, "canary p95 2.1s > 2s"},
		{"relative error rate", figures(2, 0.041, 0.1), stable, Failed, "canary error rate 4.10% > stable 1.00% + 3.00 points"},
		{"relative latency", figures(2, 0.01, 0.16), stable, Failed, "canary p95 160ms > 1.5 × stable p95 100ms"},
		{"too little traffic", figures(0.05, 0.5, 5), stable, Inconclusive, "too little canary traffic to judge: 0.05 req/s, need at least 0.1"},
		{"no canary data", NoData(), stable, Inconclusive, "too little canary traffic to judge: no data req/s"},
		{"no stable baseline: absolute rules only", figures(2, 0.02, 0.5), figures(0, 0, 0), Successful, ""},
		{"no stable baseline still fails absolute", figures(2, 0.2, 0.5), NoData(), Failed, "canary error rate 20.00% > 5.00%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, reasons := Evaluate(th, Sample{Canary: tc.canary, Stable: tc.stable})
			assert.Equal(t, tc.want, v)
			if tc.reason != "" {
				require.NotEmpty(t, reasons)
				assert.Contains(t, reasons[0], tc.reason)
			}
		})
	}
}

func TestMissingValuesSurviveJSON(t *testing.T) {
	m := Measurement{Sample: Sample{Canary: NoData(), Stable: figures(1, 0, 0.1)}, Verdict: Inconclusive}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"requestRate":null`)
	var back Measurement
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, math.IsNaN(float64(back.Sample.Canary.P95)))
	assert.Equal(t, 0.1, float64(back.Sample.Stable.P95))
}

func BenchmarkEvaluate(b *testing.B) {
	th := Spec{}.WithDefaults().Analysis.Thresholds
	s := Sample{Canary: figures(5, 0.02, 0.2), Stable: figures(40, 0.01, 0.18)}
	b.ReportAllocs()
	for b.Loop() {
		if v, _ := Evaluate(th, s); v != Successful {
			b.Fatal(v)
		}
	}
}
