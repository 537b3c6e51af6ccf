package stats

import "math"

// MannWhitneyBinned compares two samples given as counts per ordered bin
// (same bin edges, e.g. latency histogram buckets made non-cumulative), with
// the tie correction for binned data. It returns U for the first sample, the
// z statistic (positive when the first sample tends to be larger) and the
// one-sided p-value that the first sample is stochastically greater (normal
// approximation with continuity correction).
//
// Why this test: a latency histogram only says which bucket each request
// fell in, so all requests of a bucket are ties. The rank-sum test needs no
// within-bucket shape (unlike an interpolated p95, which jumps between
// buckets on few samples) and uses every request, so it is the comparison
// Kayenta's judge makes, here on bucket counts directly.
//
// U counts, over all (first, second) pairs, the pairs in which the first
// observation is in a higher bin, plus half the pairs in the same bin:
// U = sum_i a_i (B_{<i} + b_i/2). Under H0, E[U] = n1 n2 / 2 and, with ties,
// Var[U] = n1 n2 / 12 * ((N + 1) - sum_i (t_i^3 - t_i) / (N (N - 1))), t_i =
// a_i + b_i. z = (U - E[U] - 1/2) / sd[U] and pGreater = P(Z > z), as R's
// wilcox.test(exact = FALSE, correct = TRUE, alternative = "greater") and
// scipy's mannwhitneyu(method = "asymptotic", alternative = "greater") do;
// z therefore carries the continuity correction of that one-sided test.
//
// Counts may be non-integers (increase()); negative or NaN counts are taken
// as 0 and bins beyond the shorter slice as empty. With no data in either
// sample, or all of it in one bin (no variance), it returns U as computed,
// z = 0 and pGreater = 1: nothing can be concluded.
func MannWhitneyBinned(a, b []float64) (u, z, pGreater float64) {
	bins := max(len(a), len(b))
	var n1, n2, belowB, tieTerm float64
	for i := range bins {
		ai, bi := binCount(a, i), binCount(b, i)
		u += ai * (belowB + bi/2)
		belowB += bi
		n1 += ai
		n2 += bi
	}
	total := n1 + n2
	if !(n1 > 0 && n2 > 0) || math.IsInf(total, 0) {
		return u, 0, 1
	}
	for i := range bins {
		t := binCount(a, i) + binCount(b, i)
		// (t^3 - t) / (N (N - 1)), arranged to stay finite at N = 1e12.
		tieTerm += (t / total) * ((t*t - 1) / (total - 1))
	}
	variance := n1 * n2 / 12 * ((total + 1) - tieTerm)
	if !(variance > 0) {
		return u, 0, 1
	}
	z = (u - n1*n2/2 - 0.5) / math.Sqrt(variance)
	return u, z, clamp01(NormalSF(z))
}

func binCount(c []float64, i int) float64 {
	if i >= len(c) || !(c[i] > 0) || math.IsInf(c[i], 0) {
		return 0
	}
	return c[i]
}
