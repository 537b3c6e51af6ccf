package rollout

import (
	"slices"
	"strings"
	"time"
)

// Judgement methods: how each measurement is decided.
const (
	// MethodThresholds compares the last window's rates with the
	// thresholds, as the reference system did. Quick at high traffic, noisy
	// at low traffic.
	MethodThresholds = "thresholds"
	// MethodSequential judges counts since the weight began with confidence
	// bounds and an always-valid sequential test (package analysis): a
	// rollback needs strong evidence, a pass needs an upper bound within
	// the threshold, and too little data extends the hold.
	MethodSequential = "sequential"
)

// Methods are the judgement methods a spec may name.
var Methods = []string{MethodThresholds, MethodSequential}

// What a rollout does when a hold, extended to gather data, still cannot decide.
const (
	OnInconclusivePause    = "pause"
	OnInconclusiveRollback = "rollback"
)

// Bounds of the sequential judgement's knobs.
const (
	// MinFalseRollbackRate and MaxFalseRollbackRate bound analysis.falseRollbackRate.
	MinFalseRollbackRate = 0.0001
	MaxFalseRollbackRate = 0.2
	// MaxHoldExtension bounds how long a hold may be extended to gather data.
	MaxHoldExtension = 24 * time.Hour
)

// Judging configures the sequential judgement (analysis.judging).
type Judging struct {
	// Method is thresholds or sequential.
	Method string `json:"method,omitempty"`
	// FalseRollbackRate is the chance, over the whole rollout, of rolling
	// back a canary that breaks no rule (default 0.01).
	FalseRollbackRate float64 `json:"falseRollbackRate,omitempty"`
	// MaxExtension is how long a hold is extended past its duration while
	// its weight is undecided (default: the hold's own duration).
	MaxExtension Duration `json:"maxExtension,omitempty"`
	// OnInconclusive is what happens when the extension ends undecided:
	// pause (wait for a person: approve continues, abort rolls back) or
	// rollback. Never a promotion.
	OnInconclusive string `json:"onInconclusive,omitempty"`
}

func (j Judging) withDefaults() Judging {
	if j.Method == "" {
		j.Method = MethodThresholds
	}
	if j.FalseRollbackRate == 0 {
		j.FalseRollbackRate = 0.01
	}
	if j.OnInconclusive == "" {
		j.OnInconclusive = OnInconclusivePause
	}
	return j
}

// MeasuredWeights counts the distinct non-zero weights a plan sets: the
// sequences of looks the false-rollback rate is shared across.
func (s Spec) MeasuredWeights() int {
	var ws []int
	for _, st := range s.Steps {
		if st.SetWeight != nil && *st.SetWeight > 0 && !slices.Contains(ws, *st.SetWeight) {
			ws = append(ws, *st.SetWeight)
		}
	}
	return max(len(ws), 1)
}

func (c *checker) judging(j Judging) {
	const p = "analysis.judging."
	if !slices.Contains(Methods, j.Method) {
		c.add(p+"method", "must be one of %s, got %q", strings.Join(Methods, ", "), trunc(j.Method))
	}
	if j.FalseRollbackRate < MinFalseRollbackRate || j.FalseRollbackRate > MaxFalseRollbackRate {
		c.add(p+"falseRollbackRate", "must be between %g and %g, got %g", MinFalseRollbackRate, MaxFalseRollbackRate, j.FalseRollbackRate)
	}
	if j.MaxExtension < 0 || j.MaxExtension.D() > MaxHoldExtension {
		c.add(p+"maxExtension", "must be between 0 (the hold's own duration) and %s, got %s", MaxHoldExtension, j.MaxExtension.D())
	}
	if j.OnInconclusive != OnInconclusivePause && j.OnInconclusive != OnInconclusiveRollback {
		c.add(p+"onInconclusive", "must be %s or %s, got %q", OnInconclusivePause, OnInconclusiveRollback, trunc(j.OnInconclusive))
	}
}
