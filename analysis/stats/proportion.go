package stats

import (
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Wilson returns the Wilson score interval for x successes in n trials at
// confidence conf (e.g. 0.95). n == 0 gives (0, 1).
//
// Wilson is the interval the judge shows next to an error rate: unlike the
// Wald interval it never collapses to zero width at x = 0 and never leaves
// [0, 1], and its coverage stays close to nominal for the few dozen requests
// a thin canary sees (Newcombe 1998, "Two-sided confidence intervals for the
// single proportion"). x and n may be non-integers (Prometheus increase());
// x is clamped into [0, n]. An invalid conf (outside (0, 1), NaN) gives
// (0, 1).
func Wilson(x, n, conf float64) (lo, hi float64) {
	x, n, ok := counts(x, n)
	z, zok := twoSidedZ(conf)
	if !ok || !zok {
		return 0, 1
	}
	p := x / n
	z2 := z * z
	denom := 1 + z2/n
	center := (p + z2/(2*n)) / denom
	half := z / denom * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	lo, hi = clamp01(center-half), clamp01(center+half)
	// The exact boundaries are 0 and 1 at x = 0 and x = n; the formula
	// reaches them only up to rounding.
	if x == 0 {
		lo = 0
	}
	if x == n {
		hi = 1
	}
	return lo, hi
}

// ClopperPearson returns the exact (conservative) binomial interval: the
// bounds are the Beta quantiles for which observing x or more (x or fewer)
// successes has probability (1-conf)/2. n == 0 gives (0, 1).
//
// It guarantees at least nominal coverage for every p, so it is the bound
// to use when a rule must be "confidently above" a limit with no risk of
// anti-conservative error at tiny counts. Non-integer x and n are used as
// they are (the Beta form is continuous in both); x is clamped into [0, n].
func ClopperPearson(x, n, conf float64) (lo, hi float64) {
	x, n, ok := counts(x, n)
	if !ok || !(conf > 0 && conf < 1) {
		return 0, 1
	}
	alpha := 1 - conf
	lo, hi = 0, 1
	if x > 0 {
		lo = mathext.InvRegIncBeta(x, n-x+1, alpha/2)
	}
	if x < n {
		hi = mathext.InvRegIncBeta(x+1, n-x, 1-alpha/2)
	}
	return clamp01(lo), clamp01(hi)
}

// NewcombeDiff returns Newcombe's hybrid-score interval (method 10 of
// Newcombe 1998, "Interval estimation for the difference between
// independent proportions") for p1 - p2 at confidence conf.
//
// It combines the two Wilson intervals "square-and-add", so it inherits
// their good small-sample coverage, stays inside [-1, 1] and needs no
// iteration, which makes it the interval for "canary minus stable error
// rate". With no data on either side it returns (-1, 1).
func NewcombeDiff(x1, n1, x2, n2, conf float64) (lo, hi float64) {
	return SquareAndAdd(Wilson, x1, n1, x2, n2, conf)
}

// Interval is a confidence interval for x successes in n trials at conf.
type Interval func(x, n, conf float64) (lo, hi float64)

// SquareAndAdd is Newcombe's square-and-add interval for p1 - p2 built on
// any single-proportion interval: on Wilson it is NewcombeDiff; on
// ClopperPearson it keeps the exact intervals' conservative coverage at
// the tiny counts and extreme confidence of a test repeated at many looks,
// where Wilson's lower bound can be a little too high.
func SquareAndAdd(iv Interval, x1, n1, x2, n2, conf float64) (lo, hi float64) {
	x1, n1, ok1 := counts(x1, n1)
	x2, n2, ok2 := counts(x2, n2)
	if !ok1 || !ok2 {
		return -1, 1
	}
	if _, ok := twoSidedZ(conf); !ok {
		return -1, 1
	}
	p1, p2 := x1/n1, x2/n2
	l1, u1 := iv(x1, n1, conf)
	l2, u2 := iv(x2, n2, conf)
	d := p1 - p2
	lo = d - math.Sqrt((p1-l1)*(p1-l1)+(u2-p2)*(u2-p2))
	hi = d + math.Sqrt((u1-p1)*(u1-p1)+(p2-l2)*(p2-l2))
	return math.Max(lo, -1), math.Min(hi, 1)
}
