package incident

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

var at = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// Compensation sets the weight to 0 before the report is written: the report
// must still say how much traffic the canary had when the rollback began.
func TestWeightAtRollbackIsTheWeightBeforeCompensation(t *testing.T) {
	s := rollout.Status{Phase: rollout.PhaseRolledBack, Weight: 0, Events: []rollout.Event{
		{At: at, Kind: "weight", Message: "canary weight 0%"},
		{At: at, Kind: "weight", Message: "canary weight 10%"},
		{At: at, Kind: "weight", Message: "canary weight 25%"},
		{At: at, Kind: "rollback", Message: "rolling back: aborted"},
		{At: at, Kind: "weight", Message: "canary weight 0%"},
	}}
	r := New(rollout.Incident{RolloutID: "canary-p.s", RunID: "r", Status: s})
	assert.Equal(t, 25, r.WeightAtRollback)
	assert.Zero(t, r.WeightNow)
	md := Markdown(r)
	assert.Contains(t, md, "weight 25% before rollback")
	assert.Contains(t, md, "- Canary weight now: 0%")

	// A rollback before any traffic moved says 0, not a later weight.
	s.Events = []rollout.Event{{Kind: "weight", Message: "canary weight 0%"}, {Kind: "rollback", Message: "smoke failed"}}
	assert.Zero(t, New(rollout.Incident{Status: s}).WeightAtRollback)
}

// Reasons, names and messages come from people and providers: none of them
// may add a heading, a list item or a table column to the report.
func TestMarkdownKeepsOutsideTextInItsPlace(t *testing.T) {
	hostile := "x\n# Owned\n- fake | col `code`"
	s := rollout.Status{App: "shop", Namespace: "prod", Phase: rollout.PhaseRollbackFailed, Reason: hostile,
		Left: []string{"removing the canary: " + hostile}, RollbackAttempts: 3,
		Resolution: &rollout.Resolution{At: at, By: "alice\n# x", Reason: hostile},
		Smoke:      &rollout.SmokeReport{Checks: []rollout.SmokeCheck{{Name: "health|x", Figure: hostile}}},
		Measurements: []rollout.Measurement{{At: at, Weight: 10, Verdict: rollout.Failed, Reasons: []string{hostile},
			Sample: rollout.Sample{Canary: rollout.NoData(), Stable: rollout.NoData(), Queries: map[string]string{"q": "a`b"}}}},
		MeasurementsTaken: 7,
		Events:            []rollout.Event{{At: at, Kind: "abort", Message: hostile, By: "bob\nx"}}, EventsLogged: 5,
	}
	md := Markdown(New(rollout.Incident{RolloutID: "canary-prod.shop`x", RunID: "r1", Status: s}))
	for _, line := range strings.Split(md, "\n") {
		assert.NotEqual(t, "# Owned", line)
		assert.False(t, strings.HasPrefix(line, "- fake"), line)
	}
	assert.Contains(t, md, "- **Left to put right by hand** (after 3 rollback attempts): removing the canary: x # Owned - fake | col `code`")
	assert.Contains(t, md, "- Resolved by alice # x at 2026-11-25T10:00:00Z")
	assert.Contains(t, md, "| health\\|x | false |")
	assert.Contains(t, md, "The last 1 of 7 measurements.")
	assert.Contains(t, md, "(the 4 earliest events are no longer kept)")
	assert.Contains(t, md, "- Rollout: `canary-prod.shop'x`")
	assert.Contains(t, md, "- q: `a'b`")
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| 10:00:00 |") {
			assert.Equal(t, 13, strings.Count(line, "|")-strings.Count(line, `\|`), "a measurement row keeps its 12 columns: %s", line)
		}
	}
}

// The JSON report is a contract for tools: its schema is named, missing
// figures are null, and it decodes back to what was rendered.
func TestJSONReportRoundTrips(t *testing.T) {
	s := rollout.Status{App: "shop", Namespace: "prod", Stable: rollout.Release{Version: "v1"}, Canary: rollout.Release{Version: "v2"},
		Phase: rollout.PhaseRolledBack, Reason: "aborted by bob: bad build", Step: 2, StepCount: 4, Weight: 0,
		Measurements: []rollout.Measurement{{At: at, Weight: 10, Verdict: rollout.Inconclusive,
			Sample: rollout.Sample{Canary: rollout.VersionFigures{RequestRate: 0.01, ErrorRate: 0, P95: 0.1, P99: 0.2}, Stable: rollout.NoData()}}},
	}
	data, err := JSON(New(rollout.Incident{RolloutID: "canary-prod.shop", RunID: "r1", Status: s}))
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(data, &raw))
	assert.Equal(t, Schema, raw["schema"])
	assert.Equal(t, "RolledBack", raw["outcome"])
	assert.Equal(t, []any{}, raw["timeline"], "an empty timeline is a list, not null")
	stable := raw["measurements"].([]any)[0].(map[string]any)["sample"].(map[string]any)["stable"].(map[string]any)
	assert.Nil(t, stable["p95"])
	var back Report
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, "aborted by bob: bad build", back.Reason)
	assert.Equal(t, 10, back.WeightAtRollback, "the last measured weight stands in when no events say")
}
