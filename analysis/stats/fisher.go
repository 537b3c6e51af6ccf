package stats

import "math"

// FisherGreater returns the one-sided Fisher exact test p-value for the
// alternative that the first group's proportion x1/n1 exceeds x2/n2 (as R's
// fisher.test(alternative = "greater") on the table [x1, n1-x1; x2, n2-x2]).
//
// Conditioning on both margins, the number of successes in the first group
// is hypergeometric; the p-value is P(X >= x1). Being exact, the test keeps
// its level at the handful of errors a thin canary produces, where normal
// approximations do not.
//
// Counts from Prometheus' increase() are not integers; the test needs
// integers, so each count is rounded to the nearest integer (halves away from
// zero) and the successes clamped into [0, n]. Rounding moves a count by at
// most 0.5, far below what the test can resolve. With no data in either group
// (n rounding to 0, NaN or infinite counts) the p-value is 1.
//
// The first hypergeometric term is computed in log space (see logHyperPMF),
// the following ones by their ratio recurrence, summing only the
// smaller tail until the terms stop mattering, so n = 1e9 costs
// O(standard deviations) steps rather than O(n) and does not overflow.
func FisherGreater(x1, n1, x2, n2 float64) float64 {
	a, n1, ok1 := roundCounts(x1, n1)
	c, n2, ok2 := roundCounts(x2, n2)
	if !ok1 || !ok2 {
		return 1
	}
	k := a + c // successes in both groups
	lowK := math.Max(0, k-n2)
	highK := math.Min(k, n1)
	if a <= lowK {
		return 1
	}
	// The hypergeometric mode; the pmf rises up to it and falls after it,
	// which is what lets a tail sum stop early.
	mode := math.Floor((k + 1) * (n1 + 1) / (n1 + n2 + 2))
	if a > mode {
		return clamp01(hyperTail(a, highK, k, n1, n2, +1))
	}
	// The upper tail holds the mode, so it is the large one: take the
	// complement of the lower tail P(X <= a-1), which is the small sum.
	return clamp01(1 - hyperTail(a-1, lowK, k, n1, n2, -1))
}

// roundCounts rounds a Prometheus count pair to integers for an exact test.
func roundCounts(x, n float64) (float64, float64, bool) {
	if math.IsNaN(x) || math.IsNaN(n) || math.IsInf(n, 0) || math.IsInf(x, 0) {
		return 0, 0, false
	}
	n = math.Round(n)
	if n <= 0 {
		return 0, 0, false
	}
	return math.Min(math.Max(math.Round(x), 0), n), n, true
}

// hyperTail sums the hypergeometric pmf (first-group size n1, second n2,
// total successes k) from start towards end in direction dir (+1 or -1).
// Callers start on the far side of the mode, where the terms only shrink,
// so the sum stops once a term no longer changes it.
func hyperTail(start, end, k, n1, n2, dir float64) float64 {
	term := math.Exp(logHyperPMF(start, k, n1, n2))
	sum := term
	for x := start; x != end; x += dir {
		if dir > 0 {
			// pmf(x+1)/pmf(x)
			term *= (k - x) * (n1 - x) / ((x + 1) * (n2 - k + x + 1))
		} else {
			// pmf(x-1)/pmf(x)
			term *= x * (n2 - k + x) / ((k - x + 1) * (n1 - x + 1))
		}
		sum += term
		if term <= sum*1e-17 || term == 0 {
			break
		}
	}
	return sum
}

// logHyperPMF is log P(X = x) for X ~ Hypergeometric: x successes among n1
// draws from n1+n2 items of which k are successes.
//
// Differences of math.Lgamma values lose about |lgamma(N)| * 1e-16 in
// absolute terms, which is 1e-6 relative at N = 2e9. Instead it uses
// Loader's saddle-point form (C. Loader, "Fast and accurate computation of
// binomial probabilities", 2000), the approach R's dhyper takes: the
// hypergeometric pmf is a ratio of three binomial pmfs at p = n1/N, each
// computed from Stirling-series remainders and a deviance term that is
// evaluated without cancellation, so the result keeps ~1e-14 relative
// precision at any size.
func logHyperPMF(x, k, n1, n2 float64) float64 {
	total := n1 + n2
	p := n1 / total
	q := n2 / total
	return logBinomPMF(x, k, p, q) + logBinomPMF(n1-x, total-k, p, q) - logBinomPMF(n1, total, p, q)
}

// logBinomPMF is log P(Y = x) for Y ~ Binomial(n, p), q = 1-p given
// separately to keep its precision.
func logBinomPMF(x, n, p, q float64) float64 {
	switch {
	case n == 0:
		return 0 // x is 0 here: the empty product
	case x == 0:
		return n * math.Log(q)
	case x == n:
		return n * math.Log(p)
	}
	lc := stirlingErr(n) - stirlingErr(x) - stirlingErr(n-x) - devianceTerm(x, n*p) - devianceTerm(n-x, n*q)
	lf := math.Log(2*math.Pi) + math.Log(x) + math.Log1p(-x/n)
	return lc - 0.5*lf
}

// stirlingErr is log(n!) - log(sqrt(2 pi n) (n/e)^n), the error of
// Stirling's formula, from its asymptotic series for large n (where the
// direct difference would cancel) and directly for small n.
func stirlingErr(n float64) float64 {
	if n <= 15 {
		return lgamma(n+1) - (n+0.5)*math.Log(n) + n - 0.5*math.Log(2*math.Pi)
	}
	const (
		s0 = 1.0 / 12
		s1 = 1.0 / 360
		s2 = 1.0 / 1260
		s3 = 1.0 / 1680
		s4 = 1.0 / 1188
	)
	nn := n * n
	switch {
	case n > 500:
		return (s0 - s1/nn) / n
	case n > 80:
		return (s0 - (s1-s2/nn)/nn) / n
	case n > 35:
		return (s0 - (s1-(s2-s3/nn)/nn)/nn) / n
	}
	return (s0 - (s1-(s2-(s3-s4/nn)/nn)/nn)/nn) / n
}

// devianceTerm is x log(x/m) + m - x, computed by a series in
// v = (x-m)/(x+m) when x is close to m, where the direct form cancels.
func devianceTerm(x, m float64) float64 {
	if math.Abs(x-m) >= 0.1*(x+m) {
		return x*math.Log(x/m) + m - x
	}
	v := (x - m) / (x + m)
	s := (x - m) * v
	ej := 2 * x * v
	for j := 3.0; j < 1000; j += 2 {
		ej *= v * v
		next := s + ej/j
		if next == s {
			break
		}
		s = next
	}
	return s
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}
