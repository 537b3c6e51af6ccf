package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/dashboards/boards"
	"github.com/canaryflow/canaryflow/internal/memengine"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/telemetry"
	"github.com/canaryflow/canaryflow/workflows"
)

// workerJob is the scrape job of the worker in this test, as $job selects it.
const workerJob = "canaryflow-worker"

// quickRollout is a short real-time plan on the memory providers:
// 10 % → 2 s → 50 % → 2 s, measured every second.
func quickRollout(app string) rollout.Spec {
	return rollout.Spec{
		Version: rollout.FormatV1, App: app, Namespace: "metrics",
		Stable: rollout.Release{Version: "v1"}, Canary: rollout.Release{Version: "v2"},
		Deploy: rollout.Deploy{Kind: "memory"}, Traffic: rollout.Traffic{Kind: "memory"},
		Metrics: rollout.Metrics{Kind: "memory"}, Smoke: rollout.Smoke{Skip: true},
		Steps:    []rollout.Step{rollout.Weight(10), rollout.Hold(2 * time.Second), rollout.Weight(50), rollout.Hold(2 * time.Second)},
		Analysis: rollout.Analysis{Interval: rollout.Duration(time.Second)},
	}
}

// TestWorkerMetricsOnRealPrometheus runs the worker's metrics the way the
// worker binary does — SDK handler at dial, /metrics from worker/health.go on
// a real port — with an in-process worker on a real Temporal dev server,
// three rollouts (promoted, rolled back by analysis, promoted after
// continuing as new), and a real Prometheus scraping /metrics. Every query
// of the rollouts overview dashboard must then return data there.
func TestWorkerMetricsOnRealPrometheus(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := memengine.New(t)
	srv := eng.Server
	metrics, err := newWorkerMetrics(logger)
	require.NoError(t, err)
	t.Cleanup(func() { metrics.close(context.Background(), logger) })
	hs, err := serveHealth("127.0.0.1:0", metrics.registry, logger)
	require.NoError(t, err)
	t.Cleanup(hs.close)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, _, err := dial(ctx, srv.Address(), srv.Namespace(), metrics.handler)
	require.NoError(t, err)
	t.Cleanup(c.Close)

	prom := testenv.Prometheus(t, map[string][]string{workerJob: {hs.addr}})

	eng.Metrics.ByApp["bad"] = func(n int) (rollout.Sample, error) {
		if n > 1 {
			return metricsmem.With(func(c *rollout.VersionFigures) { c.ErrorRate = 0.2 }), nil
		}
		return metricsmem.Healthy(), nil
	}
	// The worker runs on the client dialled with the metrics handler, as the
	// worker binary's does.
	eng.StartWorker(t, c)

	good, err := control.Start(ctx, c, quickRollout("good"), "test")
	require.NoError(t, err)
	bad, err := control.Start(ctx, c, quickRollout("bad"), "test")
	require.NoError(t, err)
	long := quickRollout("long").WithDefaults()
	longID := rollout.WorkflowID(long.Namespace, long.App)
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: longID, TaskQueue: workflows.TaskQueue},
		workflows.CanaryRollout, workflows.Input{Spec: long, By: "test", MeasurementsPerRun: 2})
	require.NoError(t, err)

	for id, want := range map[string]rollout.Phase{good.GetID(): rollout.PhasePromoted, bad.GetID(): rollout.PhaseRolledBack, longID: rollout.PhasePromoted} {
		res, _ := control.Wait(ctx, c, id)
		require.Equal(t, want, res.Phase, id)
	}

	api := promClient{base: prom.URL(), hc: &http.Client{Timeout: 10 * time.Second}}
	t.Run("what the rollouts did is on /metrics", func(t *testing.T) {
		// Wait for scrapes after the last rollout ended.
		want := map[string]float64{
			`sum(canaryflow_rollouts_ended_total{phase="Promoted"})`:                      2,
			`sum(canaryflow_rollouts_ended_total{phase="RolledBack"})`:                    1,
			`sum(canaryflow_rollbacks_total{cause="analysis"})`:                           1,
			`sum(canaryflow_rollout_phase_entered_total{phase="Deploying"})`:              3,
			`sum(canaryflow_rollout_weight_percent)`:                                      0,
			`sum(temporal_workflow_continue_as_new_total{workflow_type="CanaryRollout"})`: 1,
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			var wrong []string
			for q, v := range want {
				got, err := api.query(q)
				require.NoError(t, err, q)
				if len(got) != 1 || (strings.Contains(q, "continue_as_new") && got[0] < v) || (!strings.Contains(q, "continue_as_new") && got[0] != v) {
					wrong = append(wrong, fmt.Sprintf("%s = %v, want %v", q, got, v))
				}
			}
			if len(wrong) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Prometheus does not show the rollouts within 30s:\n%s", strings.Join(wrong, "\n"))
			}
			time.Sleep(time.Second)
		}
		failed, err := api.query(`sum(canaryflow_measurements_total{verdict="Failed"})`)
		require.NoError(t, err)
		require.Len(t, failed, 1)
		assert.GreaterOrEqual(t, failed[0], 1.0, "the bad canary's failed measurement")
		// A counter with a per-rollout label would have one series per app.
		series, err := api.query(`count by (__name__) ({__name__=~"canaryflow_.+", rollout_app!=""})`)
		require.NoError(t, err)
		assert.Len(t, series, 1, "only the weight gauge carries per-rollout labels")
	})

	t.Run("every overview query returns data", func(t *testing.T) {
		// Let range functions over the last minute see at least two scrapes
		// of every series.
		time.Sleep(3 * time.Second)
		d, err := boards.RolloutsOverview()
		require.NoError(t, err)
		qs, err := boards.Queries(d, map[string]string{"job": workerJob, "__rate_interval": "1m", "__range": "5m"})
		require.NoError(t, err)
		n := 0
		for _, q := range qs {
			res, err := api.query(q.Expr)
			if assert.NoError(t, err, "%s %s: %s", q.Panel, q.RefID, q.Expr) {
				assert.NotEmpty(t, res, "panel %q query %s returns no data:\n%s", q.Panel, q.RefID, q.Expr)
			}
			n++
		}
		t.Logf("%d overview queries returned data", n)
	})

	t.Run("the SDK's metrics the dashboards read are exported", func(t *testing.T) {
		for _, m := range telemetry.SDKMetrics {
			res, err := api.query(fmt.Sprintf(`count({__name__=%q})`, m.SeriesNames()[0]))
			require.NoError(t, err)
			if strings.Contains(m.Name, "failed") || strings.Contains(m.Name, "request_failure") {
				continue // only there once something failed
			}
			assert.NotEmpty(t, res, "%s", m.Name)
		}
	})
}

// promClient runs instant queries against Prometheus's HTTP API.
type promClient struct {
	base string
	hc   *http.Client
}

// query returns the values of an instant query's vector.
func (p promClient) query(q string) ([]float64, error) {
	resp, err := p.hc.Get(p.base + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		return nil, fmt.Errorf("querying %q: %w", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decoding the answer to %q: %w", q, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: got a %s, want a vector", q, body.Data.ResultType)
	}
	out := make([]float64, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %q: %w", q, s, err)
		}
		out = append(out, v)
	}
	return out, nil
}
