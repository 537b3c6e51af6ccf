// Package memory is a scripted MetricsSource for tests: each measurement
// comes from a function of the call number, so a test can make the canary
// degrade at a chosen moment.
package memory

import (
	"context"
	"sync"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// Script returns the n-th sample (n counts from 1).
type Script func(n int) (rollout.Sample, error)

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
