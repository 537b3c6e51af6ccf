package middleware

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// series is the resolved pair of observers for one label combination.
// Resolving through WithLabelValues hashes four strings and builds a label
// slice on every call; a resolved series costs one table probe. Series are
// resolved on first use rather than all at construction so that /metrics
// shows only combinations that happened, as before: the status code alone
// has hundreds of possible values.
type series struct {
	key      uint64
	duration prometheus.Observer
	requests prometheus.Counter
}

// Bits of a series key: status code, method index, route index, version
// index, low to high. A combination that does not fit is not cached and is
// resolved through WithLabelValues each time (correct, only slower).
const (
	codeBits    = 16
	methodBits  = 4
	routeBits   = 20
	versionBits = 24
)

func seriesKey(version uint64, method, route, code int) (uint64, bool) {
	if code < 0 || code >= 1<<codeBits || route >= 1<<routeBits || version >= 1<<versionBits {
		return 0, false
	}
	return uint64(code) | uint64(method)<<codeBits | uint64(route)<<(codeBits+methodBits) |
		version<<(codeBits+methodBits+routeBits), true
}

// seriesIndex is an open-addressing hash table from series key to series.
// Lookups are lock-free (an atomic load of the table, then atomic loads of
// slots); inserts take mu and publish a new table when the old one is half
// full. Entries are never removed, as Prometheus never forgets a series.
type seriesIndex struct {
	table atomic.Pointer[seriesTable]
	mu    sync.Mutex
	count int
}

type seriesTable struct {
	mask  uint64
	slots []atomic.Pointer[series]
}

func newSeriesTable(size int) *seriesTable {
	return &seriesTable{mask: uint64(size - 1), slots: make([]atomic.Pointer[series], size)}
}

// spread is the murmur3 finaliser: keys differ mostly in a few bit fields,
// which a plain mask would cluster.
func spread(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// load returns the series for key, or nil. The table is never more than
// half full, so the probe ends at an empty slot.
func (t *seriesTable) load(key uint64) *series {
	for i := spread(key) & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i].Load()
		if s == nil || s.key == key {
			return s
		}
	}
}

func (t *seriesTable) store(s *series) {
	for i := spread(s.key) & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == nil {
			t.slots[i].Store(s)
			return
		}
	}
}

func (x *seriesIndex) load(key uint64) *series {
	if t := x.table.Load(); t != nil {
		return t.load(key)
	}
	return nil
}

// loadOrStore returns the series already stored for s.key, or stores s.
func (x *seriesIndex) loadOrStore(s *series) *series {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.table.Load()
	if t == nil {
		t = newSeriesTable(64)
		x.table.Store(t)
	}
	if old := t.load(s.key); old != nil {
		return old
	}
	if 2*(x.count+1) > len(t.slots) {
		grown := newSeriesTable(2 * len(t.slots))
		for i := range t.slots {
			if old := t.slots[i].Load(); old != nil {
				grown.store(old)
			}
		}
		t = grown
		// Stored before publishing, so a reader of the new table never
		// misses an entry the old one had.
		grown.store(s)
		x.table.Store(grown)
	} else {
		t.store(s)
	}
	x.count++
	return s
}
