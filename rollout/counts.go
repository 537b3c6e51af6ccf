package rollout

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

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

// Bucket is one cumulative histogram bucket: requests that took at most LE
// seconds. In JSON the bound is a string as Prometheus writes it ("0.25",
// "+Inf"): a JSON number cannot carry the +Inf bucket.
type Bucket struct {
	LE    Value   `json:"-"`
	Count float64 `json:"-"`
}

type bucketJSON struct {
	LE    string  `json:"le"`
	Count float64 `json:"count"`
}

// MarshalJSON writes the bound as Prometheus' le label value.
func (b Bucket) MarshalJSON() ([]byte, error) {
	return json.Marshal(bucketJSON{LE: strconv.FormatFloat(float64(b.LE), 'g', -1, 64), Count: b.Count})
}

// UnmarshalJSON reads a bound written as a string ("+Inf" included).
func (b *Bucket) UnmarshalJSON(data []byte) error {
	var j bucketJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	le, err := strconv.ParseFloat(j.LE, 64)
	if err != nil {
		return fmt.Errorf("histogram bucket bound %q: %w", j.LE, err)
	}
	b.LE, b.Count = Value(le), j.Count
	return nil
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
