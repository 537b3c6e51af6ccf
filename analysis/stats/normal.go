package stats

import "math"

// NormalQuantile returns the p-quantile of the standard normal distribution
// (the inverse CDF). p <= 0 gives -Inf, p >= 1 gives +Inf, NaN gives NaN.
//
// It goes through math.Erfcinv rather than Erfinv so that quantiles far in
// the upper or lower tail keep their relative precision.
func NormalQuantile(p float64) float64 {
	switch {
	case math.IsNaN(p):
		return math.NaN()
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	}
	return -math.Sqrt2 * math.Erfcinv(2*p)
}

// NormalSF returns the upper tail P(Z > z) of the standard normal
// distribution. Erfc keeps the precision of tiny tail probabilities, which a
// p-value of 1e-12 needs and 1-CDF would lose.
func NormalSF(z float64) float64 {
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// NormalCDF returns P(Z <= z) for the standard normal distribution.
func NormalCDF(z float64) float64 {
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}

// twoSidedZ returns the normal critical value for a two-sided interval of
// confidence conf, and false when conf is not in (0, 1): callers then return
// the interval that claims nothing.
func twoSidedZ(conf float64) (float64, bool) {
	if !(conf > 0 && conf < 1) {
		return 0, false
	}
	return NormalQuantile(1 - (1-conf)/2), true
}

// counts validates a count pair from Prometheus: it reports false when there
// is no usable data (n not a positive finite number, x NaN), and otherwise
// clamps x into [0, n]. Clamping rather than rejecting matters because
// increase() can return slightly negative values after counter resets or
// more errors than requests when the two series were scraped at different
// instants.
func counts(x, n float64) (float64, float64, bool) {
	if math.IsNaN(x) || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
		return 0, 0, false
	}
	return math.Min(math.Max(x, 0), n), n, true
}

// clamp01 keeps a computed probability inside [0, 1] against rounding.
func clamp01(p float64) float64 {
	return math.Min(math.Max(p, 0), 1)
}
