package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	"github.com/canaryflow/canaryflow/rollout"
)

func TestTheLastStretchIsJudgedBeforePromotion(t *testing.T) {
	// Measurement 40 covers the last minute of the last hold.
	h := newHarness(t, degradeAfter(39, metricsmem.With(func(c *rollout.VersionFigures) { c.ErrorRate = 0.5 })))
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "analysis failed at 50% canary weight")
	assert.Equal(t, []string{"deploy canary v2", "remove canary"}, h.deploy.Calls())
}

func TestPromotionNeedsASuccessfulMeasurementAtTheFinalWeight(t *testing.T) {
	t.Run("measured before promoting", func(t *testing.T) {
		h := newHarness(t, nil)
		spec := testSpec()
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(5 * time.Minute), rollout.Weight(50)}
		h.run(spec)
		h.requirePromoted()
		s := h.status()
		last, ok := s.LastMeasurement()
		require.True(t, ok)
		assert.Equal(t, 50, last.Weight)
		assert.Equal(t, rollout.Successful, last.Verdict)
	})
	t.Run("too little traffic at the end is not a pass", func(t *testing.T) {
		h := newHarness(t, func(n int) (rollout.Sample, error) {
			if n > 5 {
				return metricsmem.With(func(c *rollout.VersionFigures) { c.RequestRate = 0 }), nil
			}
			return metricsmem.Healthy(), nil
		})
		spec := testSpec()
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(5 * time.Minute), rollout.Weight(50)}
		h.run(spec)
		assert.Contains(t, h.requireRolledBack(), "inconclusive")
	})
}

func TestAGateIsNotDoubleCounted(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) {
		return metricsmem.With(func(c *rollout.VersionFigures) { c.RequestRate = 0.01 }), nil
	})
	spec := testSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Gate(5)}
	h.run(spec)
	h.requireRolledBack()
	s := h.status()
	require.Len(t, s.Measurements, 4, "maxInconclusive 3: the 4th in a row rolls back")
	for i := 1; i < len(s.Measurements); i++ {
		assert.Equal(t, time.Minute, s.Measurements[i].At.Sub(s.Measurements[i-1].At), "one measurement per interval")
	}
}

func TestTooLittleTrafficIsNeverAPass(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) {
		return metricsmem.With(func(c *rollout.VersionFigures) { c.RequestRate = 0.01 }), nil
	})
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "analysis inconclusive 4 times in a row at 10% canary weight (limit 3)")
	assert.Contains(t, reason, "too little canary traffic")
}

func TestMetricsErrorsRollBackAfterTheLimit(t *testing.T) {
	h := newHarness(t, func(int) (rollout.Sample, error) {
		return rollout.Sample{}, fmt.Errorf("dial tcp 10.0.0.1:9090: %w", rollout.ErrQueryFailed)
	})
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "metrics unavailable: 5 measurement errors in a row (limit 4)")
	assert.Contains(t, reason, "dial tcp")
}
