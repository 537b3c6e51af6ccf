package middleware

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// versionSeries is a version label value with its index in series keys and
// its resolved in-flight gauge.
type versionSeries struct {
	name     string
	idx      uint64
	inFlight prometheus.Gauge
}

// maxExtraVersions bounds how many version values besides stable, canary and
// unknown get cached: a version func is expected to return a handful, and
// one that returns unbounded values still works, resolving each request.
const maxExtraVersions = 1024

// versionIndex resolves version label values on first use. stable, canary
// and unknown have fixed slots; others live in a copy-on-write map, which
// costs a copy per new value but keeps lookups lock-free.
type versionIndex struct {
	known [len(knownVersions)]atomic.Pointer[versionSeries]
	extra atomic.Pointer[map[string]*versionSeries]
	mu    sync.Mutex
}

// knownVersions are the version values with fixed slots, in slot order.
var knownVersions = [...]string{VersionStable, VersionCanary, LabelUnknown}

func knownVersion(v string) int {
	switch v {
	case VersionStable:
		return 0
	case VersionCanary:
		return 1
	case LabelUnknown, "":
		return 2
	}
	return -1
}

// get returns the series for version v ("" meaning unknown).
func (x *versionIndex) get(gauges *prometheus.GaugeVec, v string) *versionSeries {
	if i := knownVersion(v); i >= 0 {
		if s := x.known[i].Load(); s != nil {
			return s
		}
		name := knownVersions[i]
		s := &versionSeries{name: name, idx: uint64(i), inFlight: gauges.WithLabelValues(name)}
		x.known[i].CompareAndSwap(nil, s)
		return x.known[i].Load()
	}
	if m := x.extra.Load(); m != nil {
		if s := (*m)[v]; s != nil {
			return s
		}
	}
	return x.addExtra(gauges, v)
}

func (x *versionIndex) addExtra(gauges *prometheus.GaugeVec, v string) *versionSeries {
	x.mu.Lock()
	defer x.mu.Unlock()
	var cur map[string]*versionSeries
	if p := x.extra.Load(); p != nil {
		cur = *p
	}
	if s := cur[v]; s != nil {
		return s
	}
	s := &versionSeries{name: v, inFlight: gauges.WithLabelValues(v)}
	if len(cur) >= maxExtraVersions {
		s.idx = 1 << versionBits // past the key space, so never cached
		return s
	}
	next := make(map[string]*versionSeries, len(cur)+1)
	maps.Copy(next, cur)
	s.idx = uint64(len(knownVersions) + len(cur))
	next[v] = s
	x.extra.Store(&next)
	return s
}
