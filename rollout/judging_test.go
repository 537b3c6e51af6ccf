package rollout

import (
	"time"

	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJudgingDefaultsAreTheReferenceRule(t *testing.T) {
	j := validSpec().WithDefaults().Analysis.Judging
	assert.Equal(t, MethodSequential, j.Method, "judged on counts with confidence unless the spec asks for thresholds")
	require.NotNil(t, j.Score.Pass)
	require.NotNil(t, j.Score.Marginal)
	assert.Equal(t, 100.0, *j.Score.Pass, "promote when every rule passes")
	assert.Equal(t, 100.0, *j.Score.Marginal, "roll back when any rule fails")
	assert.Empty(t, j.Critical)
}

func TestJudgingScoreCriticalAndRuleLimitsParse(t *testing.T) {
	s, err := Parse([]byte(`version: canaryflow/v1
app: shop
namespace: prod
stable: {version: v1}
canary: {version: v2}
deploy: {kind: memory}
traffic: {kind: memory}
metrics: {kind: memory}
smoke: {skip: true}
analysis:
  judging:
    method: sequential
    score: {pass: 75, marginal: 50}
    critical: [error-rate, p95]
    rules:
      p95-ratio: {maxFailures: 2, maxInconclusive: 10}
`))
	require.NoError(t, err)
	j := s.Analysis.Judging
	assert.Equal(t, 75.0, *j.Score.Pass)
	assert.Equal(t, 50.0, *j.Score.Marginal)
	assert.Equal(t, []string{RuleErrorRate, RuleP95}, j.Critical)
	assert.Equal(t, 2, *j.Rules[RuleLatencyRatio].MaxFailures)
	assert.Equal(t, 10, *j.Rules[RuleLatencyRatio].MaxInconclusive)
}

// Every judging problem at once, each naming its field; values at the
// bounds pass.
func TestJudgingProblemsNameTheField(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	i := func(v int) *int { return &v }
	s := validSpec().WithDefaults()
	s.Analysis.Judging.Score = Score{Pass: f(0), Marginal: f(101)}
	s.Analysis.Judging.Critical = []string{"latency", RuleP95, RuleP95}
	s.Analysis.Judging.Rules = map[string]RuleLimits{
		"errors":         {MaxFailures: i(1)},
		RuleErrorRate:    {MaxFailures: i(-1), MaxInconclusive: i(MaxInconclusiveLimit + 1)},
		RuleLatencyRatio: {MaxFailures: i(MaxFailuresLimit), MaxInconclusive: i(0)},
	}
	err := s.Validate()
	var v *ValidationError
	require.True(t, errors.As(err, &v), "got %v", err)
	got := map[string]string{}
	for _, p := range v.Problems {
		got[p.Path] = p.Msg
	}
	want := map[string]string{
		"analysis.judging.score.pass":                       "must be above 0 (with no data every measurement scores 0) and at most 100, got 0",
		"analysis.judging.score.marginal":                   "must be between 0 and 100, got 101",
		"analysis.judging.critical[0]":                      `must be one of error-rate, error-increase, p95, p95-ratio, got "latency"`,
		"analysis.judging.critical[2]":                      "names p95 twice",
		"analysis.judging.rules.errors":                     `must be one of error-rate, error-increase, p95, p95-ratio, got "errors"`,
		"analysis.judging.rules.error-rate.maxFailures":     "must be between 0 and 10, got -1",
		"analysis.judging.rules.error-rate.maxInconclusive": "must be between 0 and 20, got 21",
	}
	assert.Equal(t, want, got)

	// Just inside every bound: valid.
	s.Analysis.Judging.Score = Score{Pass: f(100), Marginal: f(0)}
	s.Analysis.Judging.Critical = []string{RuleErrorRate}
	s.Analysis.Judging.Rules = map[string]RuleLimits{RuleErrorRate: {MaxFailures: i(0), MaxInconclusive: i(MaxInconclusiveLimit)}}
	require.NoError(t, s.Validate())
	s.Analysis.Judging.Score = Score{Pass: f(0.5), Marginal: f(0.5)}
	require.NoError(t, s.Validate(), "marginal may equal pass")
	s.Analysis.Judging.Score = Score{Pass: f(50), Marginal: f(50.5)}
	assert.Equal(t, []string{"must be at most score.pass (50), got 50.5"}, problemsAt(t, s.Validate(), "analysis.judging.score.marginal"))
}

func TestExtensionIsTheSpecsOrTheHoldsOwnLengthAndAtLeastFiveLooks(t *testing.T) {
	a := Analysis{Interval: Duration(time.Minute)}
	assert.Equal(t, 15*time.Minute, a.Extension(15*time.Minute))
	assert.Equal(t, 5*time.Minute, a.Extension(2*time.Minute), "a short hold still gets five looks more")
	a.Judging.MaxExtension = Duration(time.Minute)
	assert.Equal(t, time.Minute, a.Extension(15*time.Minute), "the spec's maxExtension wins")
}
