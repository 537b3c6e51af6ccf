package dashboards

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/dashboards/boards"
	"github.com/canaryflow/canaryflow/middleware"
	"github.com/canaryflow/canaryflow/telemetry"
)

// TestCommittedDashboardsAreGenerated fails when a file under grafana/ is
// not what package boards generates: edit the Go, then go generate
// ./dashboards/ (or make dashboards) and commit both.
func TestCommittedDashboardsAreGenerated(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("grafana/*.json")
	require.NoError(t, err)
	var generated []string
	for _, b := range boards.All {
		generated = append(generated, filepath.Join("grafana", b.File))
		want, err := boards.Render(b)
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join("grafana", b.File))
		require.NoError(t, err, "%s is not committed: go generate ./dashboards/", b.File)
		if !bytes.Equal(want, got) {
			t.Errorf("grafana/%s differs from what package boards generates: run go generate ./dashboards/ and commit it", b.File)
		}
	}
	assert.ElementsMatch(t, generated, files, "every committed dashboard comes from the generator")
}

// knownMetrics are the series names a dashboard may query, each exported by
// something here or by a well-known exporter the panel names.
func knownMetrics() map[string]string {
	known := map[string]string{
		middleware.MetricRequests:                   "middleware",
		middleware.MetricInFlight:                   "middleware",
		middleware.MetricDuration + "_bucket":       "middleware",
		middleware.MetricDuration + "_sum":          "middleware",
		middleware.MetricDuration + "_count":        "middleware",
		"process_resident_memory_bytes":             "client_golang's process collector (demo app, worker)",
		"process_cpu_seconds_total":                 "client_golang's process collector (demo app, worker)",
		"up":                                        "Prometheus, per scrape target",
		"ALERTS":                                    "Prometheus, from the alerts of prometheus/canary-rules.yml",
		"kube_deployment_status_replicas_available": "kube-state-metrics (the panel says so)",
		"nginx_ingress_controller_requests":         "ingress-nginx (the panel says so)",
	}
	for _, ms := range [][]telemetry.Metric{telemetry.Metrics, telemetry.SDKMetrics} {
		for _, m := range ms {
			for _, n := range m.SeriesNames() {
				known[n] = "worker (package telemetry)"
			}
		}
	}
	return known
}

// board is the part of a generated dashboard the checks below read.
type board struct {
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func loadBoard(t *testing.T, b boards.Board) board {
	t.Helper()
	raw, err := boards.Render(b)
	require.NoError(t, err)
	var out board
	require.NoError(t, json.Unmarshal(raw, &out), b.File)
	return out
}

// parseValues stand in for every dashboard variable so that a query can be
// parsed: Grafana substitutes them before Prometheus sees the query.
var parseValues = map[string]string{"app": "shop", "proxy_job": "router", "ingress": "shop", "job": ".*", "datasource": "prometheus"}

// TestEveryQueryParsesAndUsesKnownMetrics parses every panel's PromQL (and
// every variable's selector) with Prometheus' own parser and requires each
// metric it names to be one that something here exports: a renamed metric
// breaks this test, not a dashboard during an incident.
func TestEveryQueryParsesAndUsesKnownMetrics(t *testing.T) {
	t.Parallel()
	known := knownMetrics()
	p := parser.NewParser(parser.Options{})
	used := map[string]bool{}
	for _, b := range boards.All {
		d := loadBoard(t, b)
		check := func(where, expr string) {
			q := interpolate(t, expr, parseValues)
			e, err := p.ParseExpr(q)
			if !assert.NoError(t, err, "%s %s:\n%s", b.File, where, q) {
				return
			}
			var names []string
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					names = append(names, vs.Name)
				}
				return nil
			})
			assert.NotEmpty(t, names, "%s %s reads no metric", b.File, where)
			for _, n := range names {
				used[n] = true
				assert.Contains(t, known, n, "%s %s reads %s, which nothing here exports", b.File, where, n)
			}
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				sel, _ := labelValues(t, v.Definition)
				check("variable "+v.Name, sel)
			}
		}
		for _, pn := range d.Panels {
			for _, tg := range pn.Targets {
				check("panel "+pn.Title+" query "+tg.RefID, tg.Expr)
			}
		}
	}
	// Every canaryflow_* metric is on the overview: a metric nobody looks at
	// is a cost without a use.
	for _, m := range telemetry.Metrics {
		assert.True(t, slices.ContainsFunc(m.SeriesNames(), func(n string) bool { return used[n] }), "no dashboard shows %s", m.Name)
	}
}

// TestOverviewModel checks what the rollouts overview promises: its uid, a
// datasource variable every panel and query uses, and only the worker's
// metrics, filtered by the worker job.
func TestOverviewModel(t *testing.T) {
	t.Parallel()
	raw, err := boards.Render(boards.All[1])
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(raw, &d))
	assert.Equal(t, "canaryflow-rollouts-overview", d.UID)
	ids := map[int]bool{}
	for _, p := range d.Panels {
		assert.False(t, ids[p.ID], "panel id %d is used twice", p.ID)
		ids[p.ID] = true
		assert.NotEmpty(t, p.Description, p.Title)
		assert.Equal(t, &promDS, p.Datasource, p.Title)
		assert.True(t, p.GridPos.W > 0 && p.GridPos.H > 0 && p.GridPos.X+p.GridPos.W <= 24, "panel %q: gridPos %+v", p.Title, p.GridPos)
		for _, tg := range p.Targets {
			assert.Equal(t, &promDS, tg.Datasource, "%s %s", p.Title, tg.RefID)
			assert.Contains(t, tg.Expr, `job=~"$job"`, "%s %s reads the workers' series only", p.Title, tg.RefID)
			assert.True(t, strings.Contains(tg.Expr, "canaryflow_") || strings.Contains(tg.Expr, "temporal_"), "%s %s", p.Title, tg.RefID)
		}
	}
}
