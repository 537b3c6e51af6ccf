package prometheus

import "time"

// WithClock pins the evaluation time of every query, so a test against a
// recorded TSDB can ask about exactly the recorded span.
func WithClock(now func() time.Time) Option {
	return func(s *Source) { s.now = now }
}
