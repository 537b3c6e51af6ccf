package analysis

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// results builds rule results with the given verdicts, in the rules' order.
func results(vs ...rollout.Verdict) []rollout.RuleResult {
	out := make([]rollout.RuleResult, len(vs))
	for i, v := range vs {
		out[i] = rollout.RuleResult{Rule: rollout.RuleNames[i], Verdict: v, Reason: rollout.RuleNames[i] + " says " + string(v)}
	}
	return out
}

func v2(score Score, critical ...string) Config {
	c := ConfigFor(rollout.Spec{}.WithDefaults())
	c.Score, c.Critical = score, critical
	return c
}

const (
	ok  = rollout.Successful
	bad = rollout.Failed
	unk = rollout.Inconclusive
)

func TestScoreVerdicts(t *testing.T) {
	cases := []struct {
		name     string
		cfg      Config
		rules    []rollout.RuleResult
		want     rollout.Verdict
		action   Action
		score    float64
		inReason string
	}{
		{"defaults: all pass", v2(DefaultScore), results(ok, ok, ok, ok), ok, Continue, 100, ""},
		{"defaults: one undecided", v2(DefaultScore), results(ok, ok, unk, ok), unk, Continue, 75, ""},
		{"defaults: one failed", v2(DefaultScore), results(ok, ok, ok, bad), bad, RollBack, 75, "score at most 75 < marginal 100 (p95-ratio failed)"},
		{"no rule at all is undecided", v2(DefaultScore), nil, unk, Continue, 0, ""},
		{"nothing known scores 0: never a pass", v2(Score{Pass: 25, Marginal: 0}), results(unk, unk, unk, unk), unk, Continue, 0, ""},
		// Marginal 75 with four rules: one failed rule is marginal, two fail.
		{"marginal: just at it", v2(Score{Pass: 100, Marginal: 75}), results(ok, ok, ok, bad), unk, Continue, 75, ""},
		{"marginal: just under it", v2(Score{Pass: 100, Marginal: 75}), results(ok, ok, bad, bad), bad, RollBack, 50, "score at most 50 < marginal 75"},
		{"marginal: failed count even with rules undecided", v2(Score{Pass: 100, Marginal: 75}), results(unk, bad, bad, unk), bad, RollBack, 0, "error-increase, p95 failed"},
		// Pass 75: three of four passing pass, two do not.
		{"pass: just at it", v2(Score{Pass: 75, Marginal: 50}), results(ok, ok, ok, unk), ok, Continue, 75, ""},
		{"pass: at it with a failed rule above marginal", v2(Score{Pass: 75, Marginal: 50}), results(ok, ok, ok, bad), ok, Continue, 75, ""},
		{"pass: just under it", v2(Score{Pass: 75, Marginal: 50}), results(ok, ok, unk, unk), unk, Continue, 50, ""},
		// A critical rule fails the measurement whatever the score, and must pass for it to pass.
		{"critical failed", v2(Score{Pass: 50, Marginal: 0}, RuleErrorRate), results(bad, ok, ok, ok), bad, RollBack, 75, "critical error-rate failed: error-rate says Failed"},
		{"critical undecided", v2(Score{Pass: 50, Marginal: 0}, RuleErrorRate), results(unk, ok, ok, ok), unk, Continue, 75, ""},
		{"non-critical failed, score enough", v2(Score{Pass: 50, Marginal: 0}, RuleErrorRate), results(ok, bad, ok, ok), ok, Continue, 75, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := aggregate(c.cfg, 25, c.rules, rollout.JudgeState{Weight: 25})
			assert.Equal(t, c.want, d.Verdict)
			assert.Equal(t, c.action, d.Action)
			assert.InDelta(t, c.score, d.Score, 1e-9)
			assert.Contains(t, d.Cause, c.inReason)
			if c.action == RollBack {
				assert.Contains(t, d.Cause, "analysis failed at 25% canary weight")
			}
		})
	}
}

func TestCriticalRulesAreMarkedInTheResults(t *testing.T) {
	in := results(ok, ok, ok, ok)
	d := aggregate(v2(DefaultScore, RuleP95), 10, in, rollout.JudgeState{})
	assert.True(t, d.Rules[2].Critical)
	assert.False(t, d.Rules[0].Critical)
	assert.False(t, in[2].Critical, "the caller's results are not changed")
}

func TestARuleFailureLimitToleratesThatManyFailedLooks(t *testing.T) {
	cfg := v2(DefaultScore)
	cfg.Limits.Rules = map[string]RuleLimit{RuleLatencyRatio: {MaxFailures: 2, MaxInconclusive: -1}}
	var st rollout.JudgeState
	for look := 1; look <= 2; look++ {
		d := aggregate(cfg, 10, results(ok, ok, ok, bad), st)
		assert.Equal(t, unk, d.Verdict, "look %d: within the limit the failed rule is not counted yet", look)
		assert.Equal(t, Continue, d.Action)
		st = d.State
	}
	assert.Equal(t, 2, st.Tally.Rules[RuleLatencyRatio].Failures)
	d := aggregate(cfg, 10, results(ok, ok, ok, bad), st)
	assert.Equal(t, bad, d.Verdict, "the third failed look is over the limit of 2")
	assert.Equal(t, RollBack, d.Action)
	// Another rule keeps analysis.limits' maxFailures (0): its first failure rolls back.
	d = aggregate(cfg, 10, results(bad, ok, ok, ok), rollout.JudgeState{})
	assert.Equal(t, RollBack, d.Action)
}

func TestARuleInconclusiveLimitAsksAPerson(t *testing.T) {
	cfg := v2(DefaultScore)
	cfg.Limits.Rules = map[string]RuleLimit{RuleP95: {MaxFailures: 0, MaxInconclusive: 2}}
	var st rollout.JudgeState
	for look := 1; look <= 2; look++ {
		d := aggregate(cfg, 50, results(ok, ok, unk, unk), st)
		assert.Equal(t, Continue, d.Action, "look %d", look)
		st = d.State
	}
	// A pass in between restarts the run.
	d := aggregate(cfg, 50, results(ok, ok, ok, unk), st)
	assert.Zero(t, d.State.Tally.Rules[RuleP95].Inconclusive)
	st = d.State
	for look := 1; look <= 3; look++ {
		d = aggregate(cfg, 50, results(ok, ok, unk, unk), st)
		st = d.State
	}
	assert.Equal(t, Undecided, d.Action, "three undecided looks in a row are over the limit of 2")
	assert.Equal(t, unk, d.Verdict)
	assert.Equal(t, "50% canary weight undecided: p95 undecided 3 looks in a row (limit 2)", d.Cause)
	// p95-ratio, undecided as long, has no such limit: the hold's extension is its limit.
	assert.NotContains(t, d.Cause, RuleLatencyRatio)
}

func TestConsecutiveMeasurementErrorsRollBackPastTheLimit(t *testing.T) {
	cfg := v2(DefaultScore)
	cfg.Limits.MaxConsecutiveErrors = 2
	var st rollout.JudgeState
	for i := 1; i <= 2; i++ {
		d := Errored(cfg, st, "prometheus: connection refused")
		require.Equal(t, rollout.Error, d.Verdict)
		assert.Equal(t, Continue, d.Action, "error %d is within the limit", i)
		st = d.State
	}
	// A look that was taken resets the run.
	st = aggregate(cfg, 10, results(ok, ok, ok, ok), st).State
	assert.Zero(t, st.Tally.ErrorsInARow)
	for range 3 {
		d := Errored(cfg, st, "prometheus: connection refused")
		st = d.State
		if st.Tally.ErrorsInARow == 3 {
			assert.Equal(t, RollBack, d.Action)
			assert.Equal(t, "metrics unavailable: 3 measurement errors in a row (limit 2): prometheus: connection refused", d.Cause)
		}
	}
}

func TestLimitsOfTheSpec(t *testing.T) {
	s := rollout.Spec{}.WithDefaults()
	two, one := 2, 1
	s.Analysis.Judging.Rules = map[string]rollout.RuleLimits{RuleP95: {MaxInconclusive: &two}, RuleErrorRate: {MaxFailures: &one}}
	l := LimitsOf(s.Analysis)
	assert.Equal(t, 4, l.MaxConsecutiveErrors)
	assert.Equal(t, RuleLimit{MaxFailures: 0, MaxInconclusive: 2}, l.rule(RuleP95))
	assert.Equal(t, RuleLimit{MaxFailures: 1, MaxInconclusive: -1}, l.rule(RuleErrorRate))
	assert.Equal(t, RuleLimit{MaxFailures: 0, MaxInconclusive: -1}, l.rule(RuleLatencyRatio), "unnamed rules take analysis.limits")

	pass, marginal := 75.0, 50.0
	s.Analysis.Judging.Score = rollout.Score{Pass: &pass, Marginal: &marginal}
	s.Analysis.Judging.Critical = []string{RuleErrorRate}
	s.Analysis.Judging.FalseRollbackRate = 0.02
	c := ConfigFor(s)
	assert.Equal(t, Score{Pass: 75, Marginal: 50}, c.Score)
	assert.Equal(t, []string{RuleErrorRate}, c.Critical)
	assert.Equal(t, 0.02, c.Alpha)
	assert.Equal(t, Revision2, c.Revision)
	assert.Equal(t, DefaultScore, ConfigFor(rollout.Spec{}.WithDefaults()).Score)
}

func TestRevision1LooksLeaveTheLimitsToTheWorkflow(t *testing.T) {
	d := Look(reference(), rollout.JudgeState{}, 10, rollout.Counts{Canary: version(200, 40, 0), Stable: version(1800, 18, 0)})
	assert.Equal(t, rollout.Failed, d.Verdict)
	assert.Equal(t, Continue, d.Action)
	assert.Nil(t, d.State.Tally)
}
