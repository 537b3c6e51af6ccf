// Package stats holds the statistics the canary judge needs to compare a
// canary with its stable version from Prometheus counts: intervals and tests
// for proportions (error rates), a rank test on binned latencies, an
// always-valid sequential p-value, and Prometheus' histogram interpolation.
//
// Everything here is a pure function of its arguments: no I/O, no clock, no
// global state, so the judge stays deterministic and replayable inside a
// workflow.
//
// Counts are float64 because Prometheus' increase() returns extrapolated,
// usually non-integer, values. Unless a function says otherwise, missing data
// (n <= 0, NaN or infinite counts) yields the answer that claims nothing: the
// interval (0, 1), a difference interval (-1, 1), or a p-value of 1. A judge
// built on these can therefore never reject, or promote, on data it does not
// have; it can only stay inconclusive.
package stats
