package rollout

import (
	"fmt"
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
	// Method is sequential (the default: counts, confidence bounds, the
	// sequential test and the recent look) or thresholds (the reference's
	// window rules).
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
	// Score weighs the rules' verdicts into one per measurement: the share
	// (0-100) of rules that passed. Defaults: pass 100, marginal 100, which
	// is the reference's "roll back when any rule breaks".
	Score Score `json:"score"`
	// Critical rules fail the measurement when they fail, whatever the
	// score, and must pass for it to pass (default: none beyond the score).
	Critical []string `json:"critical,omitempty"`
	// Rules are per-rule limits by rule name (error-rate, error-increase,
	// p95, p95-ratio); a rule not named takes analysis.limits'.
	Rules map[string]RuleLimits `json:"rules,omitempty"`
}

// Score is the pass and marginal thresholds of a measurement's score, the
// share of its rules that passed (0-100). A score at or above Pass passes;
// a measurement whose failed rules keep its score below Marginal, even if
// every undecided rule were to pass, fails; anything between is undecided
// (the hold is extended, then a person decides).
type Score struct {
	Pass     *float64 `json:"pass,omitempty"`
	Marginal *float64 `json:"marginal,omitempty"`
}

// RuleLimits are one rule's limits: it rolls back when it failed at more
// than MaxFailures looks, and stops the rollout for a person (or rolls back,
// as onInconclusive says) when it stayed undecided more than MaxInconclusive
// looks in a row. Nil takes analysis.limits' value.
type RuleLimits struct {
	MaxFailures     *int `json:"maxFailures,omitempty"`
	MaxInconclusive *int `json:"maxInconclusive,omitempty"`
}

func (j Judging) withDefaults() Judging {
	if j.Method == "" {
		j.Method = MethodSequential
	}
	if j.FalseRollbackRate == 0 {
		j.FalseRollbackRate = 0.01
	}
	if j.OnInconclusive == "" {
		j.OnInconclusive = OnInconclusivePause
	}
	if j.Score.Pass == nil {
		j.Score.Pass = ptr(100.0)
	}
	if j.Score.Marginal == nil {
		j.Score.Marginal = ptr(100.0)
	}
	return j
}

// Extension is how long a hold of d is extended while the sequential
// judgement is undecided: analysis.judging.maxExtension, or by default the
// hold's own length and at least five analysis intervals (a short hold
// still gets a few looks more). The workflow, the plan and the judge's
// budget of looks all read it here. The workflow's decisions depend on it:
// changing it changes what running rollouts do on replay, so a change
// goes behind a workflow.GetVersion like any other.
func (a Analysis) Extension(d time.Duration) time.Duration {
	if ext := a.Judging.MaxExtension.D(); ext > 0 {
		return ext
	}
	return max(d, 5*a.Interval.D())
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
	c.score(j.Score)
	for i, name := range j.Critical {
		path := fmt.Sprintf("%scritical[%d]", p, i)
		switch {
		case !slices.Contains(RuleNames, name):
			c.add(path, "must be one of %s, got %q", strings.Join(RuleNames, ", "), trunc(name))
		case slices.Index(j.Critical, name) != i:
			c.add(path, "names %s twice", name)
		}
	}
	names := make([]string, 0, len(j.Rules))
	for name := range j.Rules {
		names = append(names, name)
	}
	slices.Sort(names) // every problem at once, in the same order each time
	for _, name := range names {
		path := p + "rules." + trunc(name)
		if !slices.Contains(RuleNames, name) {
			c.add(path, "must be one of %s, got %q", strings.Join(RuleNames, ", "), trunc(name))
			continue
		}
		l := j.Rules[name]
		if v := l.MaxFailures; v != nil && (*v < 0 || *v > MaxFailuresLimit) {
			c.add(path+".maxFailures", "must be between 0 and %d, got %d", MaxFailuresLimit, *v)
		}
		if v := l.MaxInconclusive; v != nil && (*v < 0 || *v > MaxInconclusiveLimit) {
			c.add(path+".maxInconclusive", "must be between 0 and %d, got %d", MaxInconclusiveLimit, *v)
		}
	}
}

// score refuses thresholds outside 0-100, a pass of 0 (a measurement with
// no data at all scores 0 and would pass) and a marginal above pass.
func (c *checker) score(s Score) {
	const p = "analysis.judging.score."
	pass := 100.0
	if s.Pass != nil {
		pass = *s.Pass
		if !(pass > 0 && pass <= 100) {
			c.add(p+"pass", "must be above 0 (with no data every measurement scores 0) and at most 100, got %g", pass)
		}
	}
	if s.Marginal != nil {
		m := *s.Marginal
		switch {
		case !(m >= 0 && m <= 100):
			c.add(p+"marginal", "must be between 0 and 100, got %g", m)
		case m > pass:
			c.add(p+"marginal", "must be at most score.pass (%g), got %g", pass, m)
		}
	}
}
