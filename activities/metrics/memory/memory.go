// Package memory is a scripted MetricsSource for tests: each measurement
// comes from a function of the call number, so a test can make the canary
// degrade at a chosen moment. A scripted sample is returned as it is,
// counts (Window, Cumulative) included.
package memory

import (
	"context"
	"sync"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// Script returns the n-th sample (n counts from 1).
type Script func(n int) (rollout.Sample, error)

// CountsScript returns the counts for the n-th MeasureCounts call (n counts
// from 1), asked for since a moment.
type CountsScript func(n int, since time.Time) (*rollout.Counts, error)

// Metrics replays a Script.
type Metrics struct {
	mu     sync.Mutex
	calls  int
	perApp map[string]int
	script Script
	// ByApp, when it has the spec's app, replaces the script for that app
	// (its calls are counted per app), so one worker can serve several scenarios.
	ByApp map[string]Script
	// CheckErr, when set, is what Check returns.
	CheckErr error
	// Counts, when set, answers MeasureCounts; unset, MeasureCounts has
	// no counts (nil, nil), like a source that gives only rates.
	Counts     CountsScript
	countCalls int
}

// New returns a source that follows script; nil means always Healthy().
func New(script Script) *Metrics {
	if script == nil {
		script = func(int) (rollout.Sample, error) { return Healthy(), nil }
	}
	return &Metrics{script: script, perApp: map[string]int{}, ByApp: map[string]Script{}}
}

// Measure returns the next scripted sample.
func (m *Metrics) Measure(_ context.Context, spec rollout.Spec, _ time.Duration) (rollout.Sample, error) {
	m.mu.Lock()
	m.calls++
	n, script := m.calls, m.script
	if s, ok := m.ByApp[spec.App]; ok {
		m.perApp[spec.App]++
		n, script = m.perApp[spec.App], s
	}
	m.mu.Unlock()
	return script(n)
}

// MeasureCounts returns the next scripted counts since since.
func (m *Metrics) MeasureCounts(_ context.Context, _ rollout.Spec, since time.Time) (*rollout.Counts, error) {
	m.mu.Lock()
	m.countCalls++
	n, script := m.countCalls, m.Counts
	m.mu.Unlock()
	if script == nil {
		return nil, nil
	}
	return script(n, since)
}

// Check returns CheckErr.
func (m *Metrics) Check(context.Context, rollout.Spec) error { return m.CheckErr }

// Calls says how many measurements were taken.
func (m *Metrics) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// Healthy is a canary that looks like stable: 1 % errors, 120 ms p95, 10 req/s.
func Healthy() rollout.Sample {
	v := rollout.VersionFigures{RequestRate: 10, ErrorRate: 0.01, P95: 0.12, P99: 0.2}
	return rollout.Sample{Canary: v, Stable: v, Queries: map[string]string{"canary.errorRate": "memory"}}
}

// With returns Healthy with the canary's figures changed by f.
func With(f func(c *rollout.VersionFigures)) rollout.Sample {
	s := Healthy()
	f(&s.Canary)
	return s
}
