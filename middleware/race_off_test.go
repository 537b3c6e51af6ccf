//go:build !race

package middleware

// raceEnabled: the race detector's sync.Pool drops pooled objects at random
// and instruments allocations, so allocation counts are only asserted
// without it.
const raceEnabled = false
