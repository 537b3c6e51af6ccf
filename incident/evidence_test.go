package incident

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/analysis"
	"github.com/canaryflow/canaryflow/rollout"
)

// judged is a measurement the way the workflow records a sequential look
// with a custom metric: the judge's rules with the custom metric's result
// weighed in, on counts and a custom query's values.
func judged(t *testing.T, at time.Time, burn float64) rollout.Measurement {
	t.Helper()
	spec := rollout.Spec{}.WithDefaults()
	spec.Analysis.Judging.Method = rollout.MethodSequential
	spec.Analysis.Metrics = []rollout.CustomMetric{{Name: "error_budget_burn", Query: "q", FailureCondition: "result >= 2", Critical: true}}
	counts := rollout.Counts{
		Canary: rollout.VersionCounts{Requests: 60, Errors: 4}, Stable: rollout.VersionCounts{Requests: 540, Errors: 5},
		Span: rollout.Duration(12 * time.Minute),
	}
	sample := rollout.Sample{Canary: rollout.NoData(), Stable: rollout.NoData(), Cumulative: &counts,
		Custom: []rollout.CustomResult{{Name: "error_budget_burn", Values: []rollout.CustomValue{
			{Version: "canary", Query: "burn{version=\"canary\"} | `x`", Value: rollout.Value(burn)},
			{Version: "stable", Query: "burn{version=\"stable\"}", Value: 0.3},
		}}}}
	cfg := analysis.ConfigFor(spec)
	d := analysis.WithCustom(cfg, analysis.Look(cfg, rollout.JudgeState{}, 10, counts), rollout.EvaluateCustom(spec.Analysis.Metrics, sample))
	return rollout.Measurement{At: at, Weight: 10, Sample: sample, Verdict: d.Verdict, Rules: d.Rules, Reasons: analysis.Reasons(d.Rules)}
}

// The report shows what each verdict rests on: counts, every rule's and
// custom metric's estimate, bounds, p-value, counts, verdict and reason, and
// the custom metrics' resolved queries — for the last measurement and the
// failed ones before it.
func TestMarkdownShowsTheEvidenceOfTheVerdicts(t *testing.T) {
	s := rollout.Status{App: "shop", Namespace: "prod", Phase: rollout.PhaseRolledBack,
		Measurements:      []rollout.Measurement{judged(t, at, 2.4), judged(t, at.Add(time.Minute), 0.5), judged(t, at.Add(2*time.Minute), 2.5)},
		MeasurementsTaken: 3}
	require.Equal(t, rollout.Failed, s.Measurements[0].Verdict)
	md := Markdown(New(rollout.Incident{RolloutID: "canary-prod.shop", RunID: "r1", Status: s}))
	i := strings.Index(md, "## Evidence")
	require.Positive(t, i, md)
	ev := md[i:strings.Index(md, "## Timeline")]
	assert.Contains(t, ev, "### 10:00:00 at 10%: Failed")
	assert.Contains(t, ev, "### 10:02:00 at 10%: Failed")
	assert.NotContains(t, ev, "### 10:01:00", "a measurement that did not fail, and is not the last, is in the table above only")
	assert.Contains(t, ev, "- Counts since the weight began (12m0s): canary 4/60 errors, stable 5/540 errors")
	assert.Contains(t, ev, "| error-increase | Inconclusive | 5.74 % | 1.98 % to 13.1 % | 3 % | 0.9 (α 0.0025) | canary 4/60, stable 5/540 | canary 4/60 errors (6.7 %) vs stable 5/540 (0.9 %)")
	assert.Contains(t, ev, "| error_budget_burn (critical) | Failed | 2.4 | – | – | – | – | error_budget_burn canary 2.4 ≥ 2 (failureCondition), stable 0.3 → Failed |")
	// The query's pipe and backtick stay inside their code span.
	assert.Contains(t, ev, "- error_budget_burn canary = 2.4: `burn{version=\"canary\"} | 'x'`")
	assert.Contains(t, ev, "- error_budget_burn stable = 0.3: `burn{version=\"stable\"}`")
	for _, line := range strings.Split(ev, "\n") {
		if strings.HasPrefix(line, "| error") {
			assert.Equal(t, 9, strings.Count(line, "|")-strings.Count(line, `\|`), "a rule row keeps its 8 columns: %s", line)
		}
	}
}

// The JSON report keeps every measurement's rules with their counts,
// bounds and p-values, and the custom metrics' queries and values.
func TestJSONReportKeepsTheEvidence(t *testing.T) {
	s := rollout.Status{Phase: rollout.PhaseRolledBack, Measurements: []rollout.Measurement{judged(t, at, 2.4)}}
	data, err := JSON(New(rollout.Incident{RolloutID: "canary-prod.shop", Status: s}))
	require.NoError(t, err)
	var raw struct {
		Measurements []struct {
			Rules  []map[string]any `json:"rules"`
			Sample struct {
				Cumulative map[string]any   `json:"cumulative"`
				Custom     []map[string]any `json:"custom"`
			} `json:"sample"`
		} `json:"measurements"`
	}
	require.NoError(t, json.Unmarshal(data, &raw))
	m := raw.Measurements[0]
	require.Len(t, m.Rules, 5)
	inc := m.Rules[1]
	assert.Equal(t, "error-increase", inc["rule"])
	assert.Equal(t, map[string]any{"events": 4.0, "total": 60.0}, inc["canary"])
	assert.Equal(t, map[string]any{"events": 5.0, "total": 540.0}, inc["stable"])
	for _, k := range []string{"estimate", "lo", "hi", "limit", "p", "alpha", "verdict", "reason"} {
		assert.NotNil(t, inc[k], k)
	}
	burn := m.Rules[4]
	assert.Equal(t, "error_budget_burn", burn["rule"])
	assert.Equal(t, 2.4, burn["estimate"])
	assert.Nil(t, burn["p"], "no p-value for a custom metric: null, not 0")
	assert.Equal(t, true, burn["critical"])
	require.Len(t, m.Sample.Custom, 1)
	values := m.Sample.Custom[0]["values"].([]any)
	assert.Equal(t, "burn{version=\"canary\"} | `x`", values[0].(map[string]any)["query"])
	assert.NotNil(t, m.Sample.Cumulative)
}
