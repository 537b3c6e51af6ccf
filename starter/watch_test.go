package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/canaryflow/canaryflow/rollout"
)

// One frame of the live view: step progress, weight, time left in the hold,
// the latest canary vs stable figures and the recent verdicts.
func TestLiveViewShowsProgressTimeLeftAndFigures(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	spec := rollout.Spec{Steps: []rollout.Step{rollout.Weight(25), rollout.Hold(10 * time.Minute), rollout.Weight(50), rollout.ApprovalGate(0, "")}}
	s := rollout.Status{App: "shop", Namespace: "prod", Stable: rollout.Release{Version: "v1"}, Canary: rollout.Release{Version: "v2"},
		Phase: rollout.PhaseProgressing, Step: 2, StepCount: 4, StepName: "pause 10m0s", StepStartedAt: start, Weight: 25,
		MeasurementsTaken: 3,
		Measurements: []rollout.Measurement{
			{At: start, Weight: 25, Verdict: rollout.Successful, Sample: rollout.Sample{Canary: rollout.VersionFigures{RequestRate: 10}, Stable: rollout.VersionFigures{RequestRate: 30}}},
			{At: start, Weight: 25, Verdict: rollout.Inconclusive, Sample: rollout.Sample{Canary: rollout.NoData(), Stable: rollout.NoData()}},
			{At: start, Weight: 25, Verdict: rollout.Failed, Reasons: []string{"canary error rate 8.00% > 5.00%"},
				Sample: rollout.Sample{Canary: rollout.VersionFigures{RequestRate: 9.2, ErrorRate: 0.08, P95: 0.097}, Stable: rollout.VersionFigures{RequestRate: 27.5, ErrorRate: 0.001, P95: 0.05}}},
		},
		Events: []rollout.Event{{At: start, Kind: "weight", Message: "canary weight 25%"}},
	}
	view := liveView("canary-prod.shop", s, &spec, start.Add(7*time.Minute+30*time.Second))
	for _, want := range []string{
		"rollout prod/shop  v1 → v2  (canary-prod.shop)",
		"steps    [██████████░░░░░░░░░░] 2/4  pause 10m0s — 2m30s left in the hold",
		"weight   [█████░░░░░░░░░░░░░░░]  25%",
		"Failed at 25%: canary 9.2 req/s, 8.0% err, p95 97ms | stable 27.5 req/s, 0.1% err, p95 50ms",
		"→ canary error rate 8.00% > 5.00%",
		"verdicts ✓?✗  (3 measured)",
		"canary weight 25%",
	} {
		assert.Contains(t, view, want)
	}

	s.Phase, s.Step, s.StepName, s.Paused = rollout.PhaseAwaitApproval, 4, "pause until approved", true
	view = liveView("canary-prod.shop", s, nil, start)
	assert.Contains(t, view, "waiting for approval: starter approve --id canary-prod.shop")
	assert.Contains(t, view, "(paused: starter resume continues)")

	// Without the plan (history unreadable) the view still draws, without the time left.
	s.Phase, s.Step, s.StepName = rollout.PhaseProgressing, 2, "pause 10m0s"
	view = liveView("canary-prod.shop", s, nil, start)
	assert.Contains(t, view, "2/4  pause 10m0s\n")
	assert.True(t, strings.HasSuffix(view, "\n"))
}

func TestFitCutsLinesToTheTerminal(t *testing.T) {
	assert.Equal(t, "abc\nabcdefgh…\n", fit("abc\nabcdefghijklmnop\n", 10), "9 columns: the last one is left free")
	assert.Equal(t, "██…\n", fit("████████\n", 4))
	assert.Equal(t, "x\n", fit("x\n", 0))
}
