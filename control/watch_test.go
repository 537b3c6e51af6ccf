package control

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/canaryflow/canaryflow/rollout"
)

func TestFormatMeasurementShowsBothVersionsAndWhy(t *testing.T) {
	m := rollout.Measurement{
		At: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Weight: 25, Verdict: rollout.Failed,
		Sample: rollout.Sample{
			Canary: rollout.VersionFigures{RequestRate: 9.2, ErrorRate: 0.087, P95: 0.097, P99: 0.1},
			Stable: rollout.NoData(),
		},
		Reasons: []string{"canary error rate 8.70% > 5.00%"},
	}
	line := FormatMeasurement(m)
	for _, want := range []string{"measure Failed", "weight  25%", "canary 9.2 req/s, 8.7% err, p95 97ms", "stable – req/s, – err, p95 –", "→ canary error rate 8.70% > 5.00%"} {
		assert.Contains(t, line, want)
	}
}

func TestFormatStatusNamesStepsFromOne(t *testing.T) {
	s := rollout.Status{App: "shop", Namespace: "prod", Stable: rollout.Release{Version: "v1"}, Canary: rollout.Release{Version: "v2"},
		Phase: rollout.PhaseAwaitApproval, Step: 2, StepCount: 4, StepName: "pause until approved", Weight: 10, Paused: true}
	out := FormatStatus(s)
	assert.Contains(t, out, "rollout prod/shop: v1 → v2")
	assert.Contains(t, out, "phase:   AwaitingApproval (paused)")
	assert.True(t, strings.Contains(out, "step:    2/4 pause until approved"), out)
}
