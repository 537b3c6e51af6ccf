package analysis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/canaryflow/canaryflow/rollout"
)

// Score is the pass and marginal thresholds of a measurement's score, the
// share (0-100) of its rules that passed. See rollout.Score.
type Score struct{ Pass, Marginal float64 }

// DefaultScore is the reference's "roll back when any rule breaks, promote
// when all pass": one failed rule fails, one undecided rule is undecided.
var DefaultScore = Score{Pass: 100, Marginal: 100}

// Limits are the tolerated looks: a rule rolls back when it failed at more
// than its MaxFailures looks, and stops the rollout for a person when it
// was undecided more than its MaxInconclusive looks in a row (only when
// set for that rule: an undecided look is what extends a hold, and the
// hold's extension has its own limit). More than MaxConsecutiveErrors
// measurements in a row that could not be taken roll back.
type Limits struct {
	MaxFailures          int
	MaxConsecutiveErrors int
	Rules                map[string]RuleLimit
}

// RuleLimit is one rule's limits; MaxInconclusive < 0 is none.
type RuleLimit struct{ MaxFailures, MaxInconclusive int }

// LimitsOf reads a defaulted spec's limits: analysis.limits for every
// rule, overridden by analysis.judging.rules and, for custom metrics, by
// their own maxFailures.
func LimitsOf(a rollout.Analysis) Limits {
	l := Limits{MaxConsecutiveErrors: 4, Rules: map[string]RuleLimit{}}
	if v := a.Limits.MaxFailures; v != nil {
		l.MaxFailures = *v
	}
	if v := a.Limits.MaxConsecutiveErrors; v != nil {
		l.MaxConsecutiveErrors = *v
	}
	for name, rl := range a.Judging.Rules {
		r := RuleLimit{MaxFailures: l.MaxFailures, MaxInconclusive: -1}
		if rl.MaxFailures != nil {
			r.MaxFailures = *rl.MaxFailures
		}
		if rl.MaxInconclusive != nil {
			r.MaxInconclusive = *rl.MaxInconclusive
		}
		l.Rules[name] = r
	}
	for _, m := range a.Metrics {
		if m.MaxFailures != nil {
			l.Rules[m.Name] = RuleLimit{MaxFailures: *m.MaxFailures, MaxInconclusive: -1}
		}
	}
	return l
}

func (l Limits) rule(name string) RuleLimit {
	if r, ok := l.Rules[name]; ok {
		return r
	}
	return RuleLimit{MaxFailures: l.MaxFailures, MaxInconclusive: -1}
}

// Action is what a look asks of the rollout.
type Action string

// Actions. Undecided is a rule undecided past its own limit: the rollout
// waits for a person, or rolls back if analysis.judging.onInconclusive
// says so, as when a hold's extension runs out — never a promotion.
const (
	Continue  Action = "continue"
	RollBack  Action = "rollback"
	Undecided Action = "undecided"
)

// Decision is one look's judgement: the measurement's verdict, each
// rule's result, the score, what the limits make of it (with the cause a
// person reads), and the state to carry to the next look.
type Decision struct {
	Verdict rollout.Verdict
	Rules   []rollout.RuleResult
	// Score is the share of rules that passed (0-100).
	Score  float64
	Action Action
	Cause  string
	State  rollout.JudgeState
}

// Look judges one look at weight w from the counts since that weight
// began. In Revision1 the verdict is "any rule failed, else any undecided,
// else passed" and Action is always Continue: the workflow's own counters
// decide. In Revision2 the rules' failures count toward their limits, the
// score and critical rules make the verdict, and Action says whether to
// roll back (a Failed verdict), ask a person, or go on.
func Look(cfg Config, st rollout.JudgeState, w int, c rollout.Counts) Decision {
	return LookRecent(cfg, st, w, c, nil)
}

// LookRecent is Look with the last analysis window's counts as well
// (win; nil when the source gave none): from Revision3 on, a rule whose
// window alone is confidently past its null fails at this look (recent.go).
func LookRecent(cfg Config, st rollout.JudgeState, w int, c rollout.Counts, win *rollout.Counts) Decision {
	rules, st := judgeRules(cfg, st, w, c, win)
	if cfg.revision() < Revision2 {
		return Decision{Verdict: plainVerdict(rules), Rules: rules, Score: score(rules), Action: Continue, State: st}
	}
	return aggregate(cfg, w, rules, st)
}

// aggregate counts the rules' verdicts toward their limits and weighs them
// into the measurement's verdict and action (Revision2).
func aggregate(cfg Config, w int, rules []rollout.RuleResult, st rollout.JudgeState) Decision {
	d := Decision{Rules: slices.Clone(rules), State: st} // Critical is marked on a copy
	t := cloneTally(d.State.Tally)
	if t == nil {
		t = &rollout.Tally{}
	}
	t.ErrorsInARow = 0
	d.State.Tally = tallyRules(cfg, d.Rules, t)
	return decide(cfg, w, d)
}

// tallyRules marks rules critical as the config says and counts their
// verdicts into t: a failure toward the rule's failures in all, an
// undecided look toward its run of them, a decided one ends that run. An
// Error (a custom metric's query failed) neither counts nor ends a run.
func tallyRules(cfg Config, rules []rollout.RuleResult, t *rollout.Tally) *rollout.Tally {
	if t.Rules == nil {
		t.Rules = map[string]rollout.RuleTally{}
	}
	for i := range rules {
		r := &rules[i]
		r.Critical = r.Critical || slices.Contains(cfg.Critical, r.Rule)
		rt := t.Rules[r.Rule]
		switch r.Verdict {
		case rollout.Error:
			continue
		case rollout.Failed:
			rt.Failures++
			rt.Inconclusive = 0
		case rollout.Inconclusive:
			rt.Inconclusive++
		default:
			rt.Inconclusive = 0
		}
		t.Rules[r.Rule] = rt
	}
	return t
}

// decide weighs the rules' verdicts, already counted into d.State.Tally,
// into the measurement's verdict, action and cause (Revision2). A rule
// counts as failed once it failed at more looks than its MaxFailures, and
// is stuck once undecided more looks in a row than its MaxInconclusive.
func decide(cfg Config, w int, d Decision) Decision {
	d.Action, d.Cause, d.Score = Continue, "", score(d.Rules)
	var failed, critFailed, critOpen, stuck []string
	for _, r := range d.Rules {
		lim, rt := cfg.Limits.rule(r.Rule), d.State.Tally.Rules[r.Rule]
		switch {
		case r.Verdict == rollout.Failed && rt.Failures > lim.MaxFailures:
			failed = append(failed, r.Rule)
			if r.Critical {
				critFailed = append(critFailed, r.Rule)
			}
		case r.Verdict == rollout.Inconclusive && lim.MaxInconclusive >= 0 && rt.Inconclusive > lim.MaxInconclusive:
			stuck = append(stuck, fmt.Sprintf("%s undecided %d looks in a row (limit %d)", r.Rule, rt.Inconclusive, lim.MaxInconclusive))
		}
		if r.Critical && r.Verdict != rollout.Successful {
			critOpen = append(critOpen, r.Rule)
		}
	}
	best := 100.0
	if n := len(d.Rules); n > 0 {
		best = 100 * float64(n-len(failed)) / float64(n)
	}
	switch {
	case len(d.Rules) == 0:
		d.Verdict = rollout.Inconclusive
	case len(critFailed) > 0:
		d.Verdict, d.Action = rollout.Failed, RollBack
		d.Cause = fmt.Sprintf("analysis failed at %d%% canary weight: critical %s failed: %s", w, strings.Join(critFailed, ", "), causeOf(d.Rules, critFailed))
	case best < cfg.Score.Marginal:
		d.Verdict, d.Action = rollout.Failed, RollBack
		d.Cause = fmt.Sprintf("analysis failed at %d%% canary weight: score at most %.0f < marginal %g (%s failed): %s",
			w, best, cfg.Score.Marginal, strings.Join(failed, ", "), causeOf(d.Rules, failed))
	case d.Score >= cfg.Score.Pass && len(critOpen) == 0:
		d.Verdict = rollout.Successful
	default:
		d.Verdict = rollout.Inconclusive
		if len(stuck) > 0 {
			d.Action = Undecided
			d.Cause = fmt.Sprintf("%d%% canary weight undecided: %s", w, strings.Join(stuck, "; "))
		}
	}
	return d
}

// Errored records a measurement that could not be taken (a query failed):
// more than MaxConsecutiveErrors in a row roll back. It leaves the rules'
// counters alone; the next look that is taken resets the run.
func Errored(cfg Config, st rollout.JudgeState, reason string) Decision {
	t := cloneTally(st.Tally)
	if t == nil {
		t = &rollout.Tally{}
	}
	t.ErrorsInARow++
	st.Tally = t
	d := Decision{Verdict: rollout.Error, State: st, Action: Continue}
	if t.ErrorsInARow > cfg.Limits.MaxConsecutiveErrors {
		d.Action = RollBack
		d.Cause = fmt.Sprintf("metrics unavailable: %d measurement errors in a row (limit %d): %s",
			t.ErrorsInARow, cfg.Limits.MaxConsecutiveErrors, reason)
	}
	return d
}

// plainVerdict is Revision1's: any failed rule fails the look, else any
// undecided or errored one (or none judged at all) leaves it undecided.
func plainVerdict(rules []rollout.RuleResult) rollout.Verdict {
	v := rollout.Successful
	for _, r := range rules {
		switch {
		case r.Verdict == rollout.Failed:
			v = rollout.Failed
		case r.Verdict != rollout.Successful && v == rollout.Successful:
			v = rollout.Inconclusive
		}
	}
	if len(rules) == 0 {
		v = rollout.Inconclusive
	}
	return v
}

// score is the share (0-100) of rules that passed.
func score(rules []rollout.RuleResult) float64 {
	if len(rules) == 0 {
		return 0
	}
	n := 0
	for _, r := range rules {
		if r.Verdict == rollout.Successful {
			n++
		}
	}
	return 100 * float64(n) / float64(len(rules))
}

// causeOf joins the reasons of the named rules.
func causeOf(rules []rollout.RuleResult, names []string) string {
	var rs []string
	for _, r := range rules {
		if slices.Contains(names, r.Rule) {
			rs = append(rs, r.Reason)
		}
	}
	return strings.Join(rs, "; ")
}
