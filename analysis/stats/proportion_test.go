package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Newcombe RG. "Two-sided confidence intervals for the single proportion:
// comparison of seven methods." Statistics in Medicine 1998;17:857-872,
// Table I: method 3 (Wilson score, no continuity correction) and method 5
// (Clopper-Pearson "exact"), 95 %, to four decimals. The same figures come
// out of scipy 1.10.1 binomtest(x, n).proportion_ci(method="wilson"/"exact").
var newcombeTableI = []struct {
	x, n                 float64
	wilsonLo, wilsonHi   float64
	clopperLo, clopperHi float64
}{
	{81, 263, 0.2553, 0.3662, 0.2527, 0.3676},
	{15, 148, 0.0624, 0.1605, 0.0578, 0.1617},
	{0, 20, 0, 0.1611, 0, 0.1684},
	{1, 29, 0.0061, 0.1718, 0.0009, 0.1776},
}

func TestWilsonMatchesNewcombeTableI(t *testing.T) {
	for _, c := range newcombeTableI {
		lo, hi := Wilson(c.x, c.n, 0.95)
		assert.InDelta(t, c.wilsonLo, lo, 5e-5, "%v/%v lower", c.x, c.n)
		assert.InDelta(t, c.wilsonHi, hi, 5e-5, "%v/%v upper", c.x, c.n)
	}
	// Full precision from scipy 1.10.1 binomtest(81, 263).proportion_ci("wilson").
	lo, hi := Wilson(81, 263, 0.95)
	assert.InDelta(t, 0.2552885198782742, lo, 1e-12)
	assert.InDelta(t, 0.36620957698280004, hi, 1e-12)
}

func TestClopperPearsonMatchesNewcombeTableI(t *testing.T) {
	for _, c := range newcombeTableI {
		lo, hi := ClopperPearson(c.x, c.n, 0.95)
		assert.InDelta(t, c.clopperLo, lo, 5e-5, "%v/%v lower", c.x, c.n)
		assert.InDelta(t, c.clopperHi, hi, 5e-5, "%v/%v upper", c.x, c.n)
	}
	// Full precision from scipy 1.10.1 binomtest(x, n).proportion_ci("exact").
	lo, hi := ClopperPearson(81, 263, 0.95)
	assert.InDelta(t, 0.25273674558504283, lo, 1e-10)
	assert.InDelta(t, 0.3676219226013475, hi, 1e-10)
	lo, hi = ClopperPearson(1, 29, 0.95)
	assert.InDelta(t, 0.0008726468835971072, lo, 1e-12)
	assert.InDelta(t, 0.17764429548841465, hi, 1e-10)
}

// Newcombe RG. "Interval estimation for the difference between independent
// proportions: comparison of eleven methods." Statistics in Medicine
// 1998;17:873-890, Table II, method 10 (hybrid score, no continuity
// correction), 95 %, examples (a)-(h).
func TestNewcombeDiffMatchesNewcombeTableII(t *testing.T) {
	cases := []struct{ x1, n1, x2, n2, lo, hi float64 }{
		{56, 70, 48, 80, 0.0524, 0.3339}, // (a)
		{9, 10, 3, 10, 0.1705, 0.8090},   // (b)
		{6, 7, 2, 7, 0.0582, 0.8062},     // (c)
		{5, 56, 0, 29, -0.0381, 0.1926},  // (d)
		{0, 10, 0, 20, -0.1611, 0.2775},  // (e)
		{0, 10, 0, 10, -0.2775, 0.2775},  // (f)
		{10, 10, 0, 20, 0.6791, 1.0000},  // (g)
		{10, 10, 0, 10, 0.6075, 1.0000},  // (h)
	}
	for _, c := range cases {
		lo, hi := NewcombeDiff(c.x1, c.n1, c.x2, c.n2, 0.95)
		assert.InDelta(t, c.lo, lo, 5e-5, "%v/%v - %v/%v lower", c.x1, c.n1, c.x2, c.n2)
		assert.InDelta(t, c.hi, hi, 5e-5, "%v/%v - %v/%v upper", c.x1, c.n1, c.x2, c.n2)
	}
}

func TestIntervalsWithoutData(t *testing.T) {
	for _, n := range []float64{0, -3, math.NaN(), math.Inf(1)} {
		lo, hi := Wilson(0, n, 0.95)
		assert.Equal(t, [2]float64{0, 1}, [2]float64{lo, hi}, "Wilson n=%v", n)
		lo, hi = ClopperPearson(0, n, 0.95)
		assert.Equal(t, [2]float64{0, 1}, [2]float64{lo, hi}, "ClopperPearson n=%v", n)
		lo, hi = NewcombeDiff(1, 10, 0, n, 0.95)
		assert.Equal(t, [2]float64{-1, 1}, [2]float64{lo, hi}, "NewcombeDiff n2=%v", n)
		lo, hi = NewcombeDiff(0, n, 1, 10, 0.95)
		assert.Equal(t, [2]float64{-1, 1}, [2]float64{lo, hi}, "NewcombeDiff n1=%v", n)
	}
	lo, hi := Wilson(math.NaN(), 10, 0.95)
	assert.Equal(t, [2]float64{0, 1}, [2]float64{lo, hi})
	for _, conf := range []float64{0, 1, -0.5, 1.5, math.NaN()} {
		lo, hi := Wilson(3, 10, conf)
		assert.Equal(t, [2]float64{0, 1}, [2]float64{lo, hi}, "conf %v", conf)
		lo, hi = ClopperPearson(3, 10, conf)
		assert.Equal(t, [2]float64{0, 1}, [2]float64{lo, hi}, "conf %v", conf)
		lo, hi = NewcombeDiff(3, 10, 1, 10, conf)
		assert.Equal(t, [2]float64{-1, 1}, [2]float64{lo, hi}, "conf %v", conf)
	}
}

func TestIntervalsAtTheBoundaries(t *testing.T) {
	lo, hi := Wilson(0, 20, 0.95)
	assert.Zero(t, lo)
	assert.InDelta(t, 0.1611, hi, 5e-5)
	lo, hi = Wilson(20, 20, 0.95)
	assert.Equal(t, 1.0, hi)
	assert.InDelta(t, 1-0.1611, lo, 5e-5, "x = n mirrors x = 0")
	lo, hi = ClopperPearson(20, 20, 0.95)
	assert.Equal(t, 1.0, hi)
	assert.InDelta(t, 1-0.1684, lo, 5e-5, "x = n mirrors x = 0")
	// 0/20 exact upper bound is 1 - 0.025^(1/20) in closed form.
	_, hi = ClopperPearson(0, 20, 0.95)
	assert.InDelta(t, 1-math.Pow(0.025, 1.0/20), hi, 1e-12)
}

// Prometheus' increase() gives non-integer, occasionally negative or
// inconsistent counts; every interval must still be a proper sub-interval.
func TestIntervalsOnPrometheusShapedCounts(t *testing.T) {
	cases := [][2]float64{
		{2.6, 41.3}, {-0.2, 10}, {12, 10}, {1e-9, 1e-6}, {0.3, 0.7},
		{1e7, 1e9}, {0, 1e9}, {1e9, 1e9}, {3, 1e9}, {0.5, 1},
	}
	for _, c := range cases {
		for name, f := range map[string]func(x, n, conf float64) (float64, float64){
			"Wilson": Wilson, "ClopperPearson": ClopperPearson,
		} {
			lo, hi := f(c[0], c[1], 0.95)
			require.False(t, math.IsNaN(lo) || math.IsNaN(hi), "%s %v: NaN", name, c)
			assert.True(t, 0 <= lo && lo <= hi && hi <= 1, "%s %v: (%v, %v)", name, c, lo, hi)
			p := math.Min(math.Max(c[0], 0), c[1]) / c[1]
			assert.True(t, lo <= p+1e-12 && p-1e-12 <= hi, "%s %v: (%v, %v) misses %v", name, c, lo, hi, p)
		}
		lo, hi := NewcombeDiff(c[0], c[1], 5, 100, 0.95)
		require.False(t, math.IsNaN(lo) || math.IsNaN(hi), "Newcombe %v", c)
		assert.True(t, -1 <= lo && lo <= hi && hi <= 1, "Newcombe %v: (%v, %v)", c, lo, hi)
	}
	// Huge counts: both intervals shrink to the normal approximation
	// p ± 1.96 sqrt(p(1-p)/n).
	half := 1.959963984540054 * math.Sqrt(0.01*0.99/1e9)
	for name, f := range map[string]func(x, n, conf float64) (float64, float64){
		"Wilson": Wilson, "ClopperPearson": ClopperPearson,
	} {
		lo, hi := f(1e7, 1e9, 0.95)
		assert.InDelta(t, 0.01-half, lo, 1e-8, name)
		assert.InDelta(t, 0.01+half, hi, 1e-8, name)
	}
	// Clopper-Pearson contains Wilson (it is the conservative one).
	for _, c := range newcombeTableI {
		wl, wh := Wilson(c.x, c.n, 0.95)
		cl, ch := ClopperPearson(c.x, c.n, 0.95)
		assert.True(t, cl <= wl && wh <= ch, "%v/%v", c.x, c.n)
	}
}

func TestNormalHelpers(t *testing.T) {
	// Abramowitz & Stegun Table 26.5 / any normal table.
	assert.InDelta(t, 1.959963984540054, NormalQuantile(0.975), 1e-12)
	assert.InDelta(t, 1.6448536269514722, NormalQuantile(0.95), 1e-12)
	assert.InDelta(t, -2.3263478740408408, NormalQuantile(0.01), 1e-12)
	assert.Equal(t, math.Inf(1), NormalQuantile(1))
	assert.Equal(t, math.Inf(-1), NormalQuantile(0))
	assert.True(t, math.IsNaN(NormalQuantile(math.NaN())))
	assert.InDelta(t, 0.025, NormalSF(1.959963984540054), 1e-15)
	assert.InDelta(t, 0.975, NormalCDF(1.959963984540054), 1e-15)
	// scipy.stats.norm.sf(10) = 7.619853024160527e-24: tails keep relative precision.
	assert.InEpsilon(t, 7.619853024160527e-24, NormalSF(10), 1e-12)
}

func TestSquareAndAddOnExactIntervalsIsWiderAtSmallCounts(t *testing.T) {
	lo, hi := NewcombeDiff(3, 6, 1, 50, 0.999)
	wlo, whi := SquareAndAdd(Wilson, 3, 6, 1, 50, 0.999)
	assert.Equal(t, lo, wlo)
	assert.Equal(t, hi, whi)
	elo, ehi := SquareAndAdd(ClopperPearson, 3, 6, 1, 50, 0.999)
	assert.Less(t, elo, wlo, "the exact bounds are conservative")
	assert.Greater(t, ehi, whi)
	// No data on a side: no interval.
	elo, ehi = SquareAndAdd(ClopperPearson, 0, 0, 1, 50, 0.95)
	assert.Equal(t, -1.0, elo)
	assert.Equal(t, 1.0, ehi)
}
