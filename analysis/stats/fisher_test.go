package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFisherGreaterTextbookValues(t *testing.T) {
	cases := []struct {
		name           string
		x1, n1, x2, n2 float64
		want           float64
		tol            float64
	}{
		// Fisher's lady tasting tea (Fisher 1935, The Design of
		// Experiments, ch. II): 3 of 4 milk-first cups named right.
		// R: fisher.test(matrix(c(3, 1, 1, 3), 2), alternative =
		// "greater")$p.value = 0.2429 = 17/70.
		{"lady tasting tea", 3, 4, 1, 4, 17.0 / 70, 1e-15},
		// The reverse table: 1 - P(X = 0) = 69/70.
		{"tea reversed", 1, 4, 3, 4, 69.0 / 70, 1e-15},
		// The example, canary 4/60 vs stable 5/540. scipy 1.10.1
		// fisher_exact([[4, 56], [5, 535]], alternative="greater").
		{"issue example", 4, 60, 5, 540, 0.007788910606978897, 1e-13},
		// scipy 1.10.1 fisher_exact([[7, 12], [2, 24]], "greater").
		{"small table", 7, 19, 2, 26, 0.020801598793657786, 1e-13},
		// scipy 1.10.1 fisher_exact([[5, 0], [0, 5]], "greater") = 1/252.
		{"all separated", 5, 5, 0, 5, 1.0 / 252, 1e-15},
		// scipy 1.10.1 fisher_exact([[3, 7], [3, 7]], "greater").
		{"equal proportions", 3, 10, 3, 10, 0.6857585139318885, 1e-13},
		// scipy 1.10.1 fisher_exact([[1, 0], [0, 1]], "greater").
		{"one each", 1, 1, 0, 1, 0.5, 1e-15},
		// 1200 vs 1000 errors in a million requests each. The hypergeometric
		// tail summed at 40 significant digits with mpmath 1.2.1 (loggamma
		// for the first term, the exact ratio recurrence after it):
		// 1.0795513964348430e-05. (scipy 1.10.1 fisher_exact gives
		// 1.0795513966870165e-05, off by 2e-10 relative.)
		{"a million each", 1200, 1e6, 1000, 1e6, 1.0795513964348430e-05, 1e-12 * 1.08e-5},
		// mpmath at 40 digits, as above: 5.193402165718937467e-7.
		{"a million each, clearly worse", 10700, 1e6, 10000, 1e6, 5.193402165718937467e-7, 1e-12 * 5.2e-7},
		// 10 vs 3 errors in a million requests each: the exact value, from
		// the rational sum over x = 10..13 (Python fractions),
		// 0.046142054443228456. (scipy 1.10.1 gives 0.04614205445, off in
		// the tenth digit.)
		{"rare events, large n", 10, 1e6, 3, 1e6, 0.046142054443228456, 1e-14},
	}
	for _, c := range cases {
		got := FisherGreater(c.x1, c.n1, c.x2, c.n2)
		assert.InDelta(t, c.want, got, c.tol, c.name)
	}
}

func TestFisherGreaterEdges(t *testing.T) {
	// No data, or nothing to compare: p = 1 (no evidence).
	assert.Equal(t, 1.0, FisherGreater(0, 0, 3, 10))
	assert.Equal(t, 1.0, FisherGreater(3, 10, 0, 0))
	assert.Equal(t, 1.0, FisherGreater(0, 10, 0, 10))
	assert.Equal(t, 1.0, FisherGreater(math.NaN(), 10, 1, 10))
	assert.Equal(t, 1.0, FisherGreater(1, math.Inf(1), 1, 10))
	assert.Equal(t, 1.0, FisherGreater(1, 0.4, 1, 10), "n rounds to 0")
	// Counts are rounded to the nearest integer: 2.6/9.7 vs 0.4/10.2 is
	// the table 3/10 vs 0/10.
	assert.Equal(t, FisherGreater(3, 10, 0, 10), FisherGreater(2.6, 9.7, 0.4, 10.2))
	// Negative errors clamp to 0, errors above requests to n.
	assert.Equal(t, FisherGreater(0, 10, 2, 10), FisherGreater(-0.3, 10, 2, 10))
	assert.Equal(t, FisherGreater(10, 10, 2, 10), FisherGreater(12, 10, 2, 10))
	// x = n on both sides: every outcome is forced, p = 1.
	assert.Equal(t, 1.0, FisherGreater(10, 10, 10, 10))
}

// Huge counts stay finite, in [0, 1], monotone in the canary's errors, and
// agree with the normal approximation where it is good.
func TestFisherGreaterHugeCounts(t *testing.T) {
	prev := 1.0
	for _, extra := range []float64{-5000, 0, 2000, 5000, 10000, 20000, 50000} {
		p := FisherGreater(1e7+extra, 1e9, 1e7, 1e9)
		assert.False(t, math.IsNaN(p))
		assert.True(t, p >= 0 && p <= 1, "p = %v", p)
		assert.LessOrEqual(t, p, prev)
		prev = p
	}
	// 1e9 requests each, 1 % errors, 5000 more in the canary: mpmath 1.2.1
	// at 40 digits gives 0.13065447455398591374 (scipy 1.10.1 fisher_exact
	// gives 0.13065447051925244, off by 3e-8 relative; plain Lgamma
	// differences would lose ~1e-6 here, see logHyperPMF).
	assert.InEpsilon(t, 0.13065447455398591374, FisherGreater(1e7+5000, 1e9, 1e7, 1e9), 1e-12)
	// 50000 more errors, z ≈ 11: mpmath gives 1.5798034654471470933e-29,
	// still representable and relatively precise.
	assert.InEpsilon(t, 1.5798034654471470933e-29, FisherGreater(1e7+50000, 1e9, 1e7, 1e9), 1e-12)
	// Everything in one group: the p-value is the single-table probability.
	assert.InDelta(t, 1.0/252, FisherGreater(5e0, 5, 0, 5), 1e-15)
	assert.Equal(t, 1.0, FisherGreater(0, 1e9, 1e9, 1e9))
	assert.InDelta(t, 0.0, FisherGreater(1e9, 1e9, 0, 1e9), 1e-300)
}
