package analysis

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/canaryflow/canaryflow/rollout"
)

func limitsOf(failures, inconclusive, errors int) rollout.Limits {
	return rollout.Limits{MaxFailures: &failures, MaxInconclusive: &inconclusive, MaxConsecutiveErrors: &errors}
}

func counted(v rollout.Verdict, reasons ...string) rollout.Measurement {
	return rollout.Measurement{Verdict: v, Weight: 25, Reasons: reasons}
}

func TestCountFailedLooksAgainstMaxFailures(t *testing.T) {
	l := limitsOf(1, 3, 4)
	c, cause := Count(l, Counters{}, counted(rollout.Failed, "canary error rate 9% > 5%"))
	assert.Empty(t, cause, "one failure is within a limit of 1")
	assert.Equal(t, Counters{Failures: 1}, c)
	c, _ = Count(l, c, counted(rollout.Successful))
	assert.Equal(t, 1, c.Failures, "failures count in all, not in a row")
	c, cause = Count(l, c, counted(rollout.Failed, "canary error rate 9% > 5%", "p95 3s > 2s"))
	assert.Equal(t, "analysis failed at 25% canary weight: canary error rate 9% > 5%; p95 3s > 2s", cause)
	assert.Equal(t, 2, c.Failures)
}

func TestCountInconclusiveInARow(t *testing.T) {
	l := limitsOf(0, 2, 4)
	c := Counters{}
	var cause string
	for range 2 {
		c, cause = Count(l, c, counted(rollout.Inconclusive, "too few requests"))
		assert.Empty(t, cause)
	}
	c, _ = Count(l, c, counted(rollout.Successful))
	assert.Zero(t, c.Inconclusive, "a pass ends the run")
	for range 2 {
		c, _ = Count(l, c, counted(rollout.Inconclusive, "too few requests"))
	}
	c, cause = Count(l, c, counted(rollout.Inconclusive, "too few requests"))
	assert.Equal(t, "analysis inconclusive 3 times in a row at 25% canary weight (limit 2): too few requests", cause)
	assert.Equal(t, 3, c.Inconclusive)
}

func TestAJudgedInconclusiveLookCountsTowardNothing(t *testing.T) {
	l := limitsOf(0, 0, 0)
	m := counted(rollout.Inconclusive, "not enough data yet")
	m.Rules = []rollout.RuleResult{{Rule: rollout.RuleErrorRate, Verdict: rollout.Inconclusive}}
	c, cause := Count(l, Counters{ErrorsInARow: 3, Inconclusive: 1}, m)
	assert.Empty(t, cause, "the hold is extended for it instead")
	assert.Equal(t, Counters{Inconclusive: 1}, c, "it only ends a run of errors")
}

func TestCountErrorsInARow(t *testing.T) {
	l := limitsOf(0, 3, 1)
	c, cause := Count(l, Counters{}, counted(rollout.Error, "prometheus: connection refused"))
	assert.Empty(t, cause)
	c, cause = Count(l, c, counted(rollout.Error, "prometheus: connection refused"))
	assert.Equal(t, "metrics unavailable: 2 measurement errors in a row (limit 1): prometheus: connection refused", cause)
	c, _ = Count(l, c, counted(rollout.Failed))
	assert.Zero(t, c.ErrorsInARow, "any measurement taken ends the run")
}

func TestCountWithUnsetLimitsIsStrict(t *testing.T) {
	_, cause := Count(rollout.Limits{}, Counters{}, counted(rollout.Failed, "x"))
	assert.NotEmpty(t, cause, "a nil limit is 0: the first failure rolls back")
}
