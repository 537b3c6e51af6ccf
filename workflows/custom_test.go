package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	"github.com/canaryflow/canaryflow/rollout"
)

// withBurn adds a custom metric "burn" to s: canary v, stable 0.1.
func withBurn(s rollout.Sample, v float64) rollout.Sample {
	s.Custom = []rollout.CustomResult{{Name: "burn", Values: []rollout.CustomValue{{Version: "canary", Query: "q", Value: rollout.Value(v)}, {Version: "stable", Query: "q", Value: 0.1}}}}
	return s
}

func TestACriticalCustomMetricThatFailsRollsBackASequentialRollout(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) { return withBurn(counted(5000, 50), 2.4), nil })
	s := sequentialSpec()
	s.Analysis.Metrics = []rollout.CustomMetric{{Name: "burn", Query: `x{version="{{version}}"}`, FailureCondition: "result >= 2", Critical: true}}
	h.run(s)
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "critical burn failed: burn canary 2.4 ≥ 2")
}

func TestAPassingCustomMetricIsOneMoreRuleOfTheLook(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) { return withBurn(counted(5000, 50), 0.5), nil })
	s := sequentialSpec()
	s.Analysis.Metrics = []rollout.CustomMetric{{Name: "burn", Query: `x{version="{{version}}"}`, FailureCondition: "result >= 2"}}
	h.run(s)
	h.requirePromoted()
	m, _ := h.status().LastMeasurement()
	require.Len(t, m.Rules, 5)
}

func TestAFailingCustomMetricRollsBackAThresholdsRollout(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) { return withBurn(metricsmem.Healthy(), 3), nil })
	s := testSpec()
	s.Analysis.Metrics = []rollout.CustomMetric{{Name: "burn", Query: `x{version="{{version}}"}`, FailureCondition: "result >= 2"}}
	h.run(s)
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "burn canary 3 ≥ 2 (failureCondition), stable 0.1 → Failed")
	m, _ := h.status().LastMeasurement()
	require.Len(t, m.CustomRules, 1)
}

func TestACustomMetricWithoutDataNeverPromotes(t *testing.T) {
	h := newHarness(t, func(n int) (rollout.Sample, error) { return metricsmem.Healthy(), nil })
	s := testSpec()
	s.Analysis.Metrics = []rollout.CustomMetric{{Name: "burn", Query: `x{version="{{version}}"}`, FailureCondition: "result >= 2"}}
	h.run(s)
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "inconclusive")
}
