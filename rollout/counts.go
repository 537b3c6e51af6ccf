package rollout

import "time"

// VersionCounts are one version's raw counts over a span, what statistics
// need: rates alone cannot say how much data a figure rests on.
type VersionCounts struct {
	// Requests and Errors (5xx) counted over the span (Prometheus increase()).
	Requests float64 `json:"requests"`
	Errors   float64 `json:"errors"`
	// Buckets are the latency histogram's cumulative counts by upper bound
	// (seconds; the last is +Inf), sorted by LE.
	Buckets []Bucket `json:"buckets,omitempty"`
}

// Bucket is one cumulative histogram bucket: requests that took at most LE seconds.
type Bucket struct {
	LE    Value   `json:"le"`
	Count float64 `json:"count"`
}

// Counts are both versions' counts over one span.
type Counts struct {
	Canary VersionCounts `json:"canary"`
	Stable VersionCounts `json:"stable"`
	// Span is how long the counts cover.
	Span Duration `json:"span"`
}

// CountsRequest asks a metrics source for counts since a moment (the
// current weight's start), so later looks judge all the data gathered at
// that weight, not one window.
type CountsRequest struct {
	Since time.Time `json:"since"`
}
