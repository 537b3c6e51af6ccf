package activities

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/incident"
	"github.com/canaryflow/canaryflow/rollout"
)

func TestIncidentReportHoldsTheEvidence(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	in := rollout.Incident{RolloutID: "canary-prod.shop", RunID: "r1", Status: rollout.Status{
		App: "shop", Namespace: "prod", Stable: rollout.Release{Version: "v1"}, Canary: rollout.Release{Version: "v2"},
		Phase: rollout.PhaseRolledBack, Step: 4, StepCount: 6, StepName: "pause 10m0s", Weight: 25,
		Reason: "analysis failed at 25% canary weight: canary error rate 8.69% > 5.00%",
		Measurements: []rollout.Measurement{{At: at, Weight: 25, Verdict: rollout.Failed,
			Sample: rollout.Sample{
				Canary:  rollout.VersionFigures{RequestRate: 9.2, ErrorRate: 0.0869, P95: 0.097, P99: 0.099},
				Stable:  rollout.NoData(),
				Queries: map[string]string{"canary.errorRate": `sum(rate(x{version="canary"}[1m]))`},
			},
			Reasons: []string{"canary error rate 8.69% > 5.00%"}}},
		Events: []rollout.Event{{At: at, Kind: "stopping", Message: "analysis failed", By: ""}, {At: at, Kind: "approved", Message: "step 2 approved", By: "bob"}},
	}}
	a := &Activities{IncidentDir: t.TempDir()}
	path, err := a.WriteIncident(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(a.IncidentDir, "canary-prod.shop_r1.md"), path)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	md := string(data)
	for _, want := range []string{
		"# Incident: canary rollback of prod/shop",
		"- Reason: analysis failed at 25% canary weight: canary error rate 8.69% > 5.00%",
		"- Reached: step 4 of 6 (pause 10m0s), weight 25% before rollback",
		"| 10:00:00 | 25 | Failed | 9.20 | 8.69% | 97ms | 99ms | – | – | – | – | canary error rate 8.69% > 5.00% |",
		"- canary.errorRate: `sum(rate(x{version=\"canary\"}[1m]))`",
		"approved: step 2 approved (by bob)",
	} {
		assert.Contains(t, md, want)
	}
	var report incident.Report
	data, err = os.ReadFile(strings.TrimSuffix(path, ".md") + ".json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &report), "the JSON report beside it")
	assert.Equal(t, incident.Schema, report.Schema)
	assert.Equal(t, rollout.PhaseRolledBack, report.Outcome)
	assert.Equal(t, 25, report.WeightAtRollback)
	require.Len(t, report.Measurements, 1)
	assert.True(t, report.Measurements[0].Sample.Stable.P95.Missing(), "no data stays no data (null), not 0")
	assert.InDelta(t, 0.0869, float64(report.Measurements[0].Sample.Canary.ErrorRate), 1e-9)

	again, err := a.WriteIncident(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, path, again, "a retried write replaces, never duplicates")
	entries, err := os.ReadDir(a.IncidentDir)
	require.NoError(t, err)
	assert.Len(t, entries, 2)
}

// Workflow and run IDs come from whoever starts the workflow: none of them
// may put a report outside the incident directory, fail to be written, or
// overwrite another rollout's report.
func TestIncidentFilesStayInsideTheirDirectory(t *testing.T) {
	parent := t.TempDir()
	a := &Activities{IncidentDir: filepath.Join(parent, "incidents")}
	long := strings.Repeat("x", 300)
	ids := [][2]string{
		{"../../etc/x", "r1"}, {"/abs", "r1"}, {"r", "../../../x"}, {"..", ".."}, {".", ""},
		{"a\x00b", "r1"}, {"wéb/世", "r1"}, {long, "r1"}, {long + "y", "r1"}, {"r", long},
		{"a-b", "c"}, {"a", "b-c"}, {"a_b", "c"}, {"a", "b_c"}, {"Shop", "r1"}, {"shop", "r1"},
	}
	seen := map[string][2]string{}
	for _, id := range ids {
		path, err := a.WriteIncident(context.Background(), rollout.Incident{RolloutID: id[0], RunID: id[1]})
		require.NoError(t, err, "%q", id)
		rel, err := filepath.Rel(a.IncidentDir, path)
		require.NoError(t, err)
		assert.True(t, filepath.IsLocal(rel) && !strings.Contains(rel, string(filepath.Separator)), "%q wrote %s", id, path)
		assert.LessOrEqual(t, len(filepath.Base(path)), 255)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Contains(t, string(data), "- Rollout: `"+id[0]+"`", "the report names the rollout as given")
		if prev, dup := seen[path]; dup {
			t.Errorf("%q and %q share the report %s", prev, id, path)
		}
		seen[path] = id
	}
	var outside []string
	require.NoError(t, filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != parent && p != a.IncidentDir && filepath.Dir(p) != a.IncidentDir {
			outside = append(outside, p)
		}
		return err
	}))
	assert.Empty(t, outside, "nothing is written outside the incident directory")
	entries, err := os.ReadDir(a.IncidentDir)
	require.NoError(t, err)
	assert.Len(t, entries, 2*len(ids), "one Markdown and one JSON report per rollout")
}
