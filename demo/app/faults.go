package app

import (
	"encoding/json"
	"fmt"
	"time"
)

// MaxMemoryMB bounds the ballast so a typo cannot take the machine down.
const MaxMemoryMB = 4096

// MaxLatency bounds the latency fault so an answer still fits in the
// server's write timeout.
const MaxLatency = 30 * time.Second

// Faults are the misbehaviours a demo injects to make a canary fail on
// purpose: a share of 500s, extra latency and resident memory.
type Faults struct {
	// ErrorRate is the share (0..1) of /api/* requests answered 500.
	ErrorRate float64
	// Latency is added to every /api/* request (plus up to 10 % jitter).
	Latency time.Duration
	// MemoryMB is ballast really allocated and touched so RSS grows.
	MemoryMB int
}

// faultsJSON is the wire form: latency as a Go duration string, and
// pointers so a PUT may change one field and keep the others.
type faultsJSON struct {
	ErrorRate *float64 `json:"errorRate,omitempty"`
	Latency   *string  `json:"latency,omitempty"`
	MemoryMB  *int     `json:"memoryMB,omitempty"`
}

// MarshalJSON writes {"errorRate":0.2,"latency":"150ms","memoryMB":0}.
func (f Faults) MarshalJSON() ([]byte, error) {
	lat := f.Latency.String()
	return json.Marshal(faultsJSON{ErrorRate: &f.ErrorRate, Latency: &lat, MemoryMB: &f.MemoryMB})
}

// Validate names the first field out of range and its allowed values.
func (f Faults) Validate() error {
	if f.ErrorRate < 0 || f.ErrorRate > 1 || f.ErrorRate != f.ErrorRate {
		return fmt.Errorf("errorRate must be between 0 and 1, got %g", f.ErrorRate)
	}
	if f.Latency < 0 || f.Latency > MaxLatency {
		return fmt.Errorf("latency must be between 0 and %s, got %s", MaxLatency, f.Latency)
	}
	if f.MemoryMB < 0 || f.MemoryMB > MaxMemoryMB {
		return fmt.Errorf("memoryMB must be between 0 and %d, got %d", MaxMemoryMB, f.MemoryMB)
	}
	return nil
}

// apply overlays the fields present in a PUT body on f and validates the result.
func (f Faults) apply(body []byte) (Faults, error) {
	var in faultsJSON
	if err := json.Unmarshal(body, &in); err != nil {
		return f, fmt.Errorf("body must be JSON like {\"errorRate\":0.2,\"latency\":\"150ms\",\"memoryMB\":0}: %w", err)
	}
	if in.ErrorRate != nil {
		f.ErrorRate = *in.ErrorRate
	}
	if in.Latency != nil {
		d, err := time.ParseDuration(*in.Latency)
		if err != nil {
			return f, fmt.Errorf("latency must be a duration such as \"150ms\", got %q", *in.Latency)
		}
		f.Latency = d
	}
	if in.MemoryMB != nil {
		f.MemoryMB = *in.MemoryMB
	}
	return f, f.Validate()
}
