package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The expected values below are Prometheus' own, from
// promql/promqltest/testdata/histograms.test in prometheus/prometheus
// (the "testhistogram", "testhistogram2" and "testhistogram3" series at
// 50m / 7m), which pins down histogram_quantile and histogram_fraction.
var inf = math.Inf(1)

func TestQuantileFromBucketsMatchesPrometheus(t *testing.T) {
	positive := [2][]float64{{0.1, 0.2, 1, inf}, {50, 70, 110, 120}}
	negative := [2][]float64{{-0.2, -0.1, 0.3, inf}, {10, 20, 20, 30}}
	cases := []struct {
		name    string
		buckets [2][]float64
		q, want float64
	}{
		{"positive q=0", positive, 0, 0},
		{"positive q=0.2", positive, 0.2, 0.048},
		{"positive q=0.5", positive, 0.5, 0.15},
		{"positive q=0.8", positive, 0.8, 0.72},
		{"positive q=1 (in +Inf: last finite bound)", positive, 1, 1},
		{"negative q=0 (lowest bound <= 0)", negative, 0, -0.2},
		{"negative q=0.2", negative, 0.2, -0.2},
		{"negative q=0.5", negative, 0.5, -0.15},
		{"negative q=0.8", negative, 0.8, 0.3},
		{"negative q=1", negative, 1, 0.3},
	}
	// testhistogram2: q(1/6), q(1/2), q(5/6) in the middle of a bucket.
	two := [2][]float64{{0, 2, 4, 6, inf}, {0, 1, 2, 3, 3}}
	cases = append(cases,
		struct {
			name    string
			buckets [2][]float64
			q, want float64
		}{"mid-bucket 1/6", two, 1.0 / 6, 1},
		struct {
			name    string
			buckets [2][]float64
			q, want float64
		}{"mid-bucket 1/2", two, 0.5, 3},
		struct {
			name    string
			buckets [2][]float64
			q, want float64
		}{"mid-bucket 5/6", two, 5.0 / 6, 5},
	)
	// request_duration_seconds_bucket summed over its four series by le is,
	// at 50m, 0.1: 100, 0.2: 190, +Inf: 250 (rates in the same ratio):
	// q=0.3 → 0.075, q=0.5 → 0.1277777777777778.
	agg := [2][]float64{{0.1, 0.2, inf}, {100, 190, 250}}
	for _, c := range []struct{ q, want float64 }{{0.3, 0.075}, {0.5, 0.1277777777777778}} {
		cases = append(cases, struct {
			name    string
			buckets [2][]float64
			q, want float64
		}{"aggregated", agg, c.q, c.want})
	}
	for _, c := range cases {
		got := QuantileFromBuckets(c.buckets[0], c.buckets[1], c.q)
		assert.InDelta(t, c.want, got, 1e-12, c.name)
	}
}

func TestQuantileFromBucketsSpecialCases(t *testing.T) {
	les := []float64{0.1, 0.2, 1, inf}
	// Prometheus: q < 0 → -Inf, q > 1 → +Inf, q NaN → NaN.
	assert.Equal(t, math.Inf(-1), QuantileFromBuckets(les, []float64{1, 2, 3, 4}, -0.1))
	assert.Equal(t, math.Inf(1), QuantileFromBuckets(les, []float64{1, 2, 3, 4}, 1.01))
	assert.True(t, math.IsNaN(QuantileFromBuckets(les, []float64{1, 2, 3, 4}, math.NaN())))
	// No observations, no +Inf bucket, a single bucket, mismatched or
	// empty input, NaN counts: NaN.
	for name, c := range map[string][2][]float64{
		"no observations": {les, {0, 0, 0, 0}},
		"no +Inf bucket":  {{0.1, 0.2, 1}, {1, 2, 3}},
		"one bucket":      {{inf}, {5}},
		"mismatched":      {les, {1, 2, 3}},
		"empty":           {nil, nil},
		"NaN count":       {les, {1, math.NaN(), 3, 4}},
	} {
		assert.True(t, math.IsNaN(QuantileFromBuckets(c[0], c[1], 0.95)), name)
	}
	// Unsorted input and non-monotonic counts are normalized as PromQL
	// does, and the caller's slices are left alone.
	shuffledLes := []float64{1, inf, 0.1, 0.2}
	shuffledCounts := []float64{110, 120, 50, 70}
	assert.InDelta(t, 0.72, QuantileFromBuckets(shuffledLes, shuffledCounts, 0.8), 1e-12)
	assert.Equal(t, []float64{1, inf, 0.1, 0.2}, shuffledLes)
	// 0.2 bucket dips below 0.1 bucket: forced to 50, so q=0.5 (rank 60)
	// lands in (0.2, 1] at 0.2 + 0.8*10/60.
	assert.InDelta(t, 0.2+0.8*10.0/60, QuantileFromBuckets(les, []float64{50, 49, 110, 120}, 0.5), 1e-12)
	// Non-integer counts from increase().
	got := QuantileFromBuckets(les, []float64{2.5, 4.5, 4.9, 5.0}, 0.95)
	assert.InDelta(t, 0.2+0.8*(0.95*5-4.5)/0.4, got, 1e-12)
}

func TestShareAboveMatchesPrometheusFraction(t *testing.T) {
	// histogram_fraction(0, x, testhistogram2_bucket): 4 → 2/3, 6 → 1,
	// 3.5 → 0.5833333333333334; ShareAbove is the complement in counts.
	les := []float64{0, 2, 4, 6, inf}
	cum := []float64{0, 10, 20, 30, 30}
	for _, c := range []struct{ threshold, fraction float64 }{
		{4, 2.0 / 3}, {6, 1}, {3.5, 0.5833333333333334},
	} {
		above, total := ShareAbove(les, cum, c.threshold)
		assert.Equal(t, 30.0, total)
		assert.InDelta(t, (1-c.fraction)*30, above, 1e-9, "threshold %v", c.threshold)
	}
	// histogram_fraction(0, 0.2, testhistogram3_bucket) = 0.6363636363636364
	// (7 of 11 at or below the 0.2 boundary).
	above, total := ShareAbove([]float64{0, 0.1, 0.2, 1, inf}, []float64{0, 5, 7, 11, 11}, 0.2)
	assert.Equal(t, 11.0, total)
	assert.InDelta(t, 11*(1-0.6363636363636364), above, 1e-9)
}

func TestShareAboveEdges(t *testing.T) {
	les := []float64{0.1, 0.2, 1, inf}
	cum := []float64{50, 70, 110, 120}
	cases := []struct{ threshold, above float64 }{
		{-1, 120},  // below everything, lowest bucket starts at 0
		{0, 120},   // nothing is <= 0
		{0.05, 95}, // half of the lowest bucket, from 0
		{0.1, 70},  // on a boundary: exact
		{0.15, 60}, // half of (0.1, 0.2]
		{1, 10},    // only the +Inf bucket is above
		{5, 10},    // inside +Inf: cannot interpolate, all of it above
		{inf, 0},   // nothing above +Inf
	}
	for _, c := range cases {
		above, total := ShareAbove(les, cum, c.threshold)
		assert.Equal(t, 120.0, total)
		assert.InDelta(t, c.above, above, 1e-9, "threshold %v", c.threshold)
	}
	above, total := ShareAbove(les, cum, math.NaN())
	assert.True(t, math.IsNaN(above))
	assert.Equal(t, 120.0, total)
	for name, c := range map[string][2][]float64{
		"empty":      {nil, nil},
		"mismatched": {les, {1, 2}},
		"NaN count":  {les, {1, 2, math.NaN(), 4}},
	} {
		above, total := ShareAbove(c[0], c[1], 0.3)
		assert.Equal(t, [2]float64{0, 0}, [2]float64{above, total}, name)
	}
	above, total = ShareAbove(les, []float64{0, 0, 0, 0}, 0.3)
	assert.Equal(t, [2]float64{0, 0}, [2]float64{above, total}, "no observations")
	// A lowest bucket reaching down to -Inf cannot be split.
	above, _ = ShareAbove([]float64{-1, 1, inf}, []float64{4, 6, 6}, -2)
	assert.Equal(t, 6.0, above)
	// Huge, non-integer counts.
	above, total = ShareAbove(les, []float64{5e8, 7.5e8, 9.9e8, 1e9}, 0.6)
	assert.Equal(t, 1e9, total)
	assert.InDelta(t, 1e9-(7.5e8+2.4e8*0.5), above, 1e-3)
}
