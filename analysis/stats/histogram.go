package stats

import (
	"math"
	"sort"
)

// QuantileFromBuckets returns the q-quantile of a classic Prometheus
// histogram given as upper bounds les and cumulative counts (the values of
// ..._bucket{le=...}, e.g. increase() over a window), interpolated exactly as
// PromQL's histogram_quantile does, so the judge's p95 is the number a
// person sees on the dashboard:
//
//   - buckets are sorted by le, duplicate les merged, and counts that
//     decrease with le raised to the running maximum (monotonicity forced);
//   - the value is interpolated linearly within the bucket holding the rank
//     q*total, starting from 0 in the lowest bucket when its upper bound is
//     positive (its upper bound is returned when it is <= 0);
//   - a rank in the +Inf bucket returns the upper bound of the last finite
//     bucket;
//   - no data (no observations, fewer than two buckets, no +Inf bucket,
//     mismatched lengths, a NaN count) gives NaN; q < 0 gives -Inf, q > 1
//     +Inf, NaN q gives NaN.
//
// The inputs are not modified.
func QuantileFromBuckets(les, cumulative []float64, q float64) float64 {
	if math.IsNaN(q) {
		return math.NaN()
	}
	if q < 0 {
		return math.Inf(-1)
	}
	if q > 1 {
		return math.Inf(1)
	}
	bs, ok := normalizeBuckets(les, cumulative)
	if !ok || len(bs) < 2 || !math.IsInf(bs[len(bs)-1].le, 1) {
		return math.NaN()
	}
	total := bs[len(bs)-1].count
	if !(total > 0) {
		return math.NaN()
	}
	rank := q * total
	last := len(bs) - 1
	b := sort.Search(last, func(i int) bool { return bs[i].count >= rank })
	switch {
	case b == last:
		return bs[last-1].le
	case b == 0 && bs[0].le <= 0:
		return bs[0].le
	}
	start, inBucket := 0.0, bs[b].count
	if b > 0 {
		start = bs[b-1].le
		inBucket -= bs[b-1].count
		rank -= bs[b-1].count
	}
	return start + (bs[b].le-start)*(rank/inBucket)
}

// ShareAbove returns how many observations of a classic histogram lie above
// threshold, and the total, for a test on the share of slow requests
// (e.g. FisherGreater on canary vs stable "above 300 ms"). Within the bucket
// containing threshold the count is interpolated linearly, as PromQL's
// histogram_fraction does (lowest bucket from 0 when its upper bound is
// positive); everything in the +Inf bucket counts as above. A threshold on
// a bucket boundary splits exactly there, so choosing a threshold equal to
// one of the les avoids interpolation altogether.
//
// Buckets are normalized as in QuantileFromBuckets. The total is the count
// of the highest bucket (+Inf). No data (empty or mismatched inputs, a NaN
// count) gives (0, 0); a NaN threshold gives (NaN, total).
func ShareAbove(les, cumulative []float64, threshold float64) (above, total float64) {
	bs, ok := normalizeBuckets(les, cumulative)
	if !ok || len(bs) == 0 {
		return 0, 0
	}
	total = bs[len(bs)-1].count
	if math.IsNaN(threshold) {
		return math.NaN(), total
	}
	below := 0.0
	for i, b := range bs {
		if threshold >= b.le {
			below = b.count
			continue
		}
		// threshold falls inside bucket i: (lower, b.le].
		prev, lower := 0.0, 0.0
		if i > 0 {
			prev, lower = bs[i-1].count, bs[i-1].le
		} else if b.le <= 0 {
			break // the lowest bucket reaches down to -Inf: nothing to interpolate
		}
		if threshold > lower && !math.IsInf(b.le, 1) {
			below = prev + (b.count-prev)*(threshold-lower)/(b.le-lower)
		}
		break
	}
	return math.Max(total-below, 0), total
}

type bucket struct{ le, count float64 }

// normalizeBuckets copies and sorts the buckets by le, merges duplicate les
// (the same bound spelled twice, as PromQL does) and forces the counts to be
// non-decreasing, which the rate of a counter can break by a rounding error
// or a scrape race. It reports false for mismatched lengths or a NaN.
func normalizeBuckets(les, cumulative []float64) ([]bucket, bool) {
	if len(les) != len(cumulative) {
		return nil, false
	}
	bs := make([]bucket, 0, len(les))
	for i, le := range les {
		if math.IsNaN(le) || math.IsNaN(cumulative[i]) {
			return nil, false
		}
		bs = append(bs, bucket{le, cumulative[i]})
	}
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	merged := bs[:0]
	for _, b := range bs {
		if n := len(merged); n > 0 && merged[n-1].le == b.le {
			merged[n-1].count += b.count
			continue
		}
		merged = append(merged, b)
	}
	for i := 1; i < len(merged); i++ {
		merged[i].count = math.Max(merged[i].count, merged[i-1].count)
	}
	return merged, true
}
