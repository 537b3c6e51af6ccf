package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// status's summary ends with what the last verdict rests on: the counts,
// each rule's and custom metric's reason (bounds, p-value, verdict) and the
// custom metrics' resolved queries with their results.
func TestStatusTextShowsTheEvidenceOfTheLastMeasurement(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	nan := rollout.Value(math.NaN())
	s := rollout.Status{App: "shop", Namespace: "prod", Phase: rollout.PhaseProgressing, Weight: 10, MeasurementsTaken: 1,
		Measurements: []rollout.Measurement{{At: at, Weight: 10, Verdict: rollout.Failed,
			Sample: rollout.Sample{Canary: rollout.NoData(), Stable: rollout.NoData(),
				Cumulative: &rollout.Counts{Canary: rollout.VersionCounts{Requests: 60, Errors: 4}, Stable: rollout.VersionCounts{Requests: 540, Errors: 5}, Span: rollout.Duration(12 * time.Minute)},
				Custom:     []rollout.CustomResult{{Name: "burn", Values: []rollout.CustomValue{{Version: "canary", Query: `sum(burn{app="shop",version="canary"})`, Value: 2.4}}}}},
			Rules: []rollout.RuleResult{
				{Rule: rollout.RuleErrorRate, Verdict: rollout.Inconclusive, Reason: "canary 4/60 errors (6.7 %, 90 % CI 3.0 %–14.0 %) vs limit 5.0 %: p = 0.3 > 0.0025 → Inconclusive"},
				{Rule: "burn", Verdict: rollout.Failed, Estimate: 2.4, Lo: nan, Hi: nan, P: nan, Reason: "burn canary 2.4 ≥ 2 (failureCondition) → Failed"},
			}}},
		Events: []rollout.Event{{At: at, Kind: "weight", Message: "canary weight 10%"}},
	}
	text := statusText(s)
	i := strings.Index(text, "evidence of the last measurement:\n")
	require.Positive(t, i, text)
	assert.Greater(t, i, strings.Index(text, "events:"), "after the event log")
	assert.Equal(t, `evidence of the last measurement:
  counts since the weight began (12m0s): canary 4/60 errors, stable 5/540 errors
  error-rate: canary 4/60 errors (6.7 %, 90 % CI 3.0 %–14.0 %) vs limit 5.0 %: p = 0.3 > 0.0025 → Inconclusive
  burn canary 2.4 ≥ 2 (failureCondition) → Failed
  burn canary = 2.4: sum(burn{app="shop",version="canary"})
`, text[i:])

	s.Measurements = nil
	assert.NotContains(t, statusText(s), "evidence", "nothing measured, nothing to show")
}
