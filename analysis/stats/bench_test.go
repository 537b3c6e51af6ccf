package stats

import "testing"

var sink float64

// go test -bench . ./analysis/stats/
func BenchmarkFisherGreater(b *testing.B) {
	cases := []struct {
		name           string
		x1, n1, x2, n2 float64
	}{
		// 1 % errors on a million requests each, canary a little worse.
		{"n=1e6/p=1%", 10100, 1e6, 10000, 1e6},
		// Rare errors: the tail is a handful of terms.
		{"n=1e6/rare", 12, 1e6, 3, 1e6},
		// Canary clearly worse: p ~ 1e-12, summed from deep in the tail.
		{"n=1e6/worse", 10700, 1e6, 10000, 1e6},
		// The worst case for the tail sum: a billion requests at 1 %.
		{"n=1e9/p=1%", 1e7 + 5000, 1e9, 1e7, 1e9},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				sink = FisherGreater(c.x1, c.n1, c.x2, c.n2)
			}
		})
	}
}

func BenchmarkMannWhitneyBinned15(b *testing.B) {
	a := []float64{120, 340, 800, 1500, 2100, 1900, 1200, 700, 400, 200, 90, 40, 20, 8, 3}
	s := []float64{130, 360, 820, 1550, 2050, 1850, 1150, 680, 380, 190, 85, 35, 18, 6, 2}
	for b.Loop() {
		_, _, sink = MannWhitneyBinned(a, s)
	}
}
