package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Reference values: scipy 1.10.1, on the bins expanded into one observation
// per count (np.repeat(np.arange(len(c)), c)),
//
//	mannwhitneyu(x, y, alternative="greater", method="asymptotic",
//	             use_continuity=True)
//
// which gives U for x and the p-value; z is norm.isf(p). R's
// wilcox.test(x, y, alternative = "greater", exact = FALSE, correct = TRUE)
// computes the same statistic (W = U) and p-value.
func TestMannWhitneyBinnedMatchesScipy(t *testing.T) {
	cases := []struct {
		name    string
		a, b    []float64
		u, z, p float64
	}{
		{"latency buckets, canary slower",
			[]float64{5, 20, 40, 25, 8, 2}, []float64{10, 35, 60, 30, 5, 0},
			7955, 1.8940924944363953, 0.02910636690162944},
		{"few requests, empty bins",
			[]float64{0, 3, 2, 0, 1}, []float64{2, 2, 1, 0, 0},
			23, 1.4544361847068492, 0.07291270699197411},
		{"15 bins, opposite trends",
			[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
			[]float64{15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1},
			11680, 8.348219828550143, 3.464975190177834e-17},
		{"first sample faster",
			[]float64{3, 1}, []float64{1, 3},
			4, -1.4882351124738327, 0.9316555498157539},
		{"unequal sizes",
			[]float64{0, 0, 4, 6, 2}, []float64{1, 3, 5, 2, 0},
			108, 2.697199513531453, 0.0034962680637322364},
	}
	for _, c := range cases {
		u, z, p := MannWhitneyBinned(c.a, c.b)
		assert.Equal(t, c.u, u, c.name)
		assert.InDelta(t, c.z, z, 1e-9, c.name)
		assert.InEpsilon(t, c.p, p, 1e-8, c.name)
	}
}

func TestMannWhitneyBinnedEdges(t *testing.T) {
	// No data on one side, or everything tied in one bin: no conclusion.
	for name, c := range map[string][2][]float64{
		"empty":          {nil, nil},
		"no canary":      {{0, 0, 0}, {1, 2, 3}},
		"no stable":      {{1, 2, 3}, {}},
		"all in one bin": {{0, 7, 0}, {0, 9, 0}},
		"NaN and negative only": {
			{math.NaN(), -3}, {2, 1},
		},
	} {
		_, z, p := MannWhitneyBinned(c[0], c[1])
		assert.Equal(t, 0.0, z, name)
		assert.Equal(t, 1.0, p, name)
	}
	// Slices of different lengths: missing bins are empty.
	u1, z1, p1 := MannWhitneyBinned([]float64{1, 2, 3}, []float64{3, 2})
	u2, z2, p2 := MannWhitneyBinned([]float64{1, 2, 3}, []float64{3, 2, 0})
	assert.Equal(t, [3]float64{u2, z2, p2}, [3]float64{u1, z1, p1})
	// Antisymmetry: swapping the samples mirrors U around n1 n2 / 2.
	a, b := []float64{5, 20, 40, 25, 8, 2}, []float64{10, 35, 60, 30, 5, 0}
	ua, _, _ := MannWhitneyBinned(a, b)
	ub, _, _ := MannWhitneyBinned(b, a)
	assert.Equal(t, 100.0*140, ua+ub)
	// Non-integer counts from increase() and huge counts stay finite.
	_, z, p := MannWhitneyBinned([]float64{0.4, 2.7, 1.1}, []float64{1.9, 0.2, 0.3})
	assert.False(t, math.IsNaN(z) || math.IsNaN(p))
	assert.True(t, p >= 0 && p <= 1)
	big := []float64{1e9, 2e9, 3e9, 1e9}
	_, z, p = MannWhitneyBinned(big, big)
	assert.InDelta(t, 0, z, 1e-6, "identical samples")
	assert.InDelta(t, 0.5, p, 1e-6)
	_, z, p = MannWhitneyBinned([]float64{1e9, 2e9, 3e9, 1.01e9}, big)
	assert.Greater(t, z, 3.0)
	assert.True(t, p >= 0 && p < 1e-3)
}
