// Package sim replays canary rollouts against simulated traffic, with no
// servers, to measure how often the judge (package analysis) and today's
// fixed-window rules (rollout.Evaluate with the spec's limits) roll back,
// promote or stop for a person, and how much traffic they need to decide.
//
// Everything is seeded (math/rand/v2's PCG, one stream per run), so a table
// is the same for a given seed whatever the number of CPUs. Traffic is drawn
// per analysis interval rather than per request: a Poisson number of
// requests, a binomial number of errors and a multinomial spread over the
// middleware's histogram buckets, which has exactly the distribution of
// Poisson arrivals with independent errors and latencies, and costs the same
// at 100 req/s as at 1.
package sim

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/canaryflow/canaryflow/middleware"
	"github.com/canaryflow/canaryflow/rollout"
)

// Latency is a lognormal latency distribution: Median in seconds and Sigma,
// the standard deviation of the latency's logarithm.
type Latency struct {
	Median float64
	Sigma  float64
}

// Healthy is the simulated service's latency: a median of 50 ms, a true p95
// of 114 ms (exp(1.645 × 0.5) × 50 ms).
var Healthy = Latency{Median: 0.05, Sigma: 0.5}

// Scaled is the same service with every request f times slower.
func (l Latency) Scaled(f float64) Latency { return Latency{Median: l.Median * f, Sigma: l.Sigma} }

// CDF is the share of requests that take at most x seconds.
func (l Latency) CDF(x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case math.IsInf(x, 1):
		return 1
	}
	return 0.5 * math.Erfc(-math.Log(x/l.Median)/(l.Sigma*math.Sqrt2))
}

// Version is how one version of the service behaves.
type Version struct {
	// ErrorRate is the chance that a request fails (a 5xx).
	ErrorRate float64
	Latency   Latency
	// Dark means the version gets no traffic at all (routing broken, pod
	// never ready): Prometheus has no series for it.
	Dark bool
}

// Buckets are the histogram's upper bounds the simulation records into,
// with +Inf added as Prometheus exposes it: the middleware's DefaultBuckets
// unless edges are given.
func Buckets(edges []float64) []float64 {
	if edges == nil {
		edges = middleware.DefaultBuckets
	}
	return append(append([]float64(nil), edges...), math.Inf(1))
}

// source draws one version's counts; it holds the per-bin probabilities so
// they are computed once per scenario, not per draw. Read-only once built.
type source struct {
	v     Version
	les   []float64
	probs []float64 // chance of a request falling in each bin (le[i-1], le[i]]
}

func newSource(v Version, edges []float64) source {
	les := Buckets(edges)
	probs := make([]float64, len(les))
	prev := 0.0
	for i, le := range les {
		c := v.Latency.CDF(le)
		probs[i] = math.Max(c-prev, 0)
		prev = c
	}
	return source{v: v, les: les, probs: probs}
}

// draw returns the counts of one span in which the version receives mean
// requests on average. Buckets are cumulative, as increase(..._bucket[w]) by
// le returns them.
func (s source) draw(src rand.Source, mean float64) rollout.VersionCounts {
	if s.v.Dark {
		return rollout.VersionCounts{}
	}
	n := poisson(src, mean)
	out := rollout.VersionCounts{
		Requests: n,
		Errors:   binomial(src, n, s.v.ErrorRate),
		Buckets:  make([]rollout.Bucket, len(s.les)),
	}
	// Multinomial as a chain of binomials: each bin takes its share of
	// what the bins before it left.
	left, leftP, cum := n, 1.0, 0.0
	for i, le := range s.les {
		k := left
		if i < len(s.les)-1 && leftP > 0 {
			k = binomial(src, left, math.Min(s.probs[i]/leftP, 1))
		}
		left -= k
		leftP -= s.probs[i]
		cum += k
		out.Buckets[i] = rollout.Bucket{LE: rollout.Value(le), Count: cum}
	}
	return out
}

func poisson(src rand.Source, mean float64) float64 {
	if mean <= 0 {
		return 0
	}
	return distuv.Poisson{Lambda: mean, Src: src}.Rand()
}

func binomial(src rand.Source, n, p float64) float64 {
	switch {
	case n <= 0 || p <= 0:
		return 0
	case p >= 1:
		return n
	}
	return distuv.Binomial{N: n, P: p, Src: src}.Rand()
}

// add returns a + b, bucket by bucket; either may have no series yet.
func add(a, b rollout.VersionCounts) rollout.VersionCounts {
	out := rollout.VersionCounts{Requests: a.Requests + b.Requests, Errors: a.Errors + b.Errors}
	switch {
	case len(a.Buckets) == 0:
		out.Buckets = append([]rollout.Bucket(nil), b.Buckets...)
	case len(b.Buckets) == 0:
		out.Buckets = append([]rollout.Bucket(nil), a.Buckets...)
	default:
		out.Buckets = make([]rollout.Bucket, len(a.Buckets))
		for i := range a.Buckets {
			out.Buckets[i] = rollout.Bucket{LE: a.Buckets[i].LE, Count: a.Buckets[i].Count + b.Buckets[i].Count}
		}
	}
	return out
}
