package memory_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/activities/metrics/memory"
	"github.com/canaryflow/canaryflow/rollout"
)

var _ activities.MetricsSource = (*memory.Metrics)(nil)

func counts(canary, errs float64) *rollout.Counts {
	return &rollout.Counts{
		Canary: rollout.VersionCounts{Requests: canary, Errors: errs, Buckets: []rollout.Bucket{{LE: 0.1, Count: canary / 2}, {LE: rollout.Value(math.Inf(1)), Count: canary}}},
		Stable: rollout.VersionCounts{Requests: 9 * canary, Errors: errs},
		Span:   rollout.Duration(time.Minute),
	}
}

func TestScriptedCountsComeBackWhole(t *testing.T) {
	m := memory.New(func(n int) (rollout.Sample, error) {
		s := memory.Healthy()
		s.Window = counts(float64(60*n), 1)
		s.Cumulative = counts(float64(600*n), 3)
		return s, nil
	})
	m.ByApp["other"] = func(n int) (rollout.Sample, error) {
		s := memory.Healthy()
		s.Window = counts(7, 0)
		return s, fmt.Errorf("scripted: %w", rollout.ErrNoData)
	}
	ctx := context.Background()
	for n := 1; n <= 2; n++ {
		s, err := m.Measure(ctx, rollout.Spec{App: "shop"}, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, counts(float64(60*n), 1), s.Window)
		assert.Equal(t, counts(float64(600*n), 3), s.Cumulative)
	}
	s, err := m.Measure(ctx, rollout.Spec{App: "other"}, time.Minute)
	require.ErrorIs(t, err, rollout.ErrNoData)
	assert.Equal(t, counts(7, 0), s.Window, "a sample with an error keeps its counts")
	assert.Nil(t, s.Cumulative)

	assert.Nil(t, memory.Healthy().Window, "Healthy has no counts unless a script adds them")
}

func TestMeasureCountsFollowsItsScript(t *testing.T) {
	ctx := context.Background()
	c, err := memory.New(nil).MeasureCounts(ctx, rollout.Spec{}, time.Now())
	require.NoError(t, err)
	assert.Nil(t, c, "no script: no counts")

	since := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	m := memory.New(nil)
	var seen []time.Time
	m.Counts = func(n int, s time.Time) (*rollout.Counts, error) {
		seen = append(seen, s)
		if n == 2 {
			return nil, rollout.ErrQueryFailed
		}
		return counts(float64(100*n), 0), nil
	}
	c, err = m.MeasureCounts(ctx, rollout.Spec{}, since)
	require.NoError(t, err)
	assert.Equal(t, counts(100, 0), c)
	_, err = m.MeasureCounts(ctx, rollout.Spec{}, since.Add(time.Minute))
	require.ErrorIs(t, err, rollout.ErrQueryFailed)
	c, err = m.MeasureCounts(ctx, rollout.Spec{}, since)
	require.NoError(t, err)
	assert.Equal(t, counts(300, 0), c)
	assert.Equal(t, []time.Time{since, since.Add(time.Minute), since}, seen)
	assert.Zero(t, m.Calls(), "counts are not measurements")
}
