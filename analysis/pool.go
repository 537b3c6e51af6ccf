package analysis

import (
	"maps"
	"math"
	"sort"

	"github.com/canaryflow/canaryflow/rollout"
)

// carry moves the state to the look at weight w (Revision2): a new weight
// adds the previous weight's last counts to Earlier, so each rule stays one
// test over the whole rollout and its running minimum p-value carries on.
// The look's own counts (since w began) become Latest. The maps and
// pointers are copied: a state handed back is never changed afterwards.
func carry(st rollout.JudgeState, w int, c rollout.Counts) rollout.JudgeState {
	next := rollout.JudgeState{Weight: w, Looks: st.Looks, MinP: maps.Clone(st.MinP), Earlier: st.Earlier, Tally: cloneTally(st.Tally), RecentLooks: st.RecentLooks, Revision: st.Revision}
	if next.MinP == nil {
		next.MinP = map[string]float64{}
	}
	if st.Weight != w {
		next.Looks = 0
		if st.Latest != nil {
			sum := *st.Latest
			if st.Earlier != nil {
				sum = addCounts(*st.Earlier, *st.Latest)
			}
			next.Earlier = &sum
		}
	}
	latest := c
	next.Latest = &latest
	return next
}

func cloneTally(t *rollout.Tally) *rollout.Tally {
	if t == nil {
		return nil
	}
	c := *t
	c.Rules = maps.Clone(t.Rules)
	return &c
}

// addCounts adds two spans' counts, version by version.
func addCounts(a, b rollout.Counts) rollout.Counts {
	return rollout.Counts{Canary: addVersion(a.Canary, b.Canary), Stable: addVersion(a.Stable, b.Stable), Span: a.Span + b.Span}
}

// addVersion adds counts and merges the histograms bucket by bucket on
// their bounds: a series that appeared between two weights (a new le) is
// read, as Prometheus would, as cumulative counts of the nearest bound
// below it in the histogram that lacks it.
func addVersion(a, b rollout.VersionCounts) rollout.VersionCounts {
	out := rollout.VersionCounts{Requests: a.Requests + b.Requests, Errors: a.Errors + b.Errors}
	switch {
	case len(a.Buckets) == 0:
		out.Buckets = append([]rollout.Bucket(nil), b.Buckets...)
		return out
	case len(b.Buckets) == 0:
		out.Buckets = append([]rollout.Bucket(nil), a.Buckets...)
		return out
	}
	var les []float64
	seen := map[float64]bool{}
	for _, bs := range [][]rollout.Bucket{a.Buckets, b.Buckets} {
		for _, bk := range bs {
			if le := float64(bk.LE); !seen[le] && !math.IsNaN(le) {
				seen[le] = true
				les = append(les, le)
			}
		}
	}
	sort.Float64s(les)
	for _, le := range les {
		out.Buckets = append(out.Buckets, rollout.Bucket{LE: rollout.Value(le), Count: countAt(a.Buckets, le) + countAt(b.Buckets, le)})
	}
	return out
}

// countAt is a cumulative histogram's count at bound le: the count of the
// largest bound at or below it (0 below the first).
func countAt(bs []rollout.Bucket, le float64) float64 {
	c := 0.0
	for _, b := range bs {
		if float64(b.LE) <= le {
			c = math.Max(c, b.Count)
		}
	}
	return c
}
