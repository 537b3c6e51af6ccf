package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/dashboards/boards"
	"github.com/canaryflow/canaryflow/demo/stack"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

// The worker process's /metrics, scraped by a real Prometheus while it runs
// real rollouts (this test's aborted and promoted ones, and whatever the
// other scenarios run beside them): every query of the rollouts overview
// dashboard returns data there.
func TestWorkerMetricsScrapedByPrometheus(t *testing.T) {
	const job = "canaryflow-worker"
	prom := testenv.Prometheus(t, map[string][]string{job: {workerMetrics}})
	app, ctx := scenario(t, stack.AppOptions{Name: "metrics", Hold: 3 * time.Second})

	// One rollout aborted (a rollback by cause), then one promoted.
	id := start(ctx, t, app)
	waitForTraffic(ctx, t, id)
	answer, err := control.Act(ctx, engine.Client, id, rollout.SignalAbort, rollout.Abort{By: "e2e", Reason: "metrics test"})
	require.NoError(t, err)
	assert.Contains(t, answer, "rolling back")
	res, _ := finish(ctx, t, id)
	require.Equal(t, rollout.PhaseRolledBack, res.Phase)
	// The promoted one continues as new every few measurements, so the
	// SDK's continue-as-new counter has data too.
	spec := app.Spec.WithDefaults()
	_, err = engine.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
		workflows.CanaryRollout, workflows.Input{Spec: spec, By: "e2e", MeasurementsPerRun: 3})
	require.NoError(t, err)
	res, s := finish(ctx, t, id)
	assert.Contains(t, eventKinds(s), "continue-as-new")
	require.Equal(t, rollout.PhasePromoted, res.Phase, "reason: %s", res.Reason)

	pc, err := api.NewClient(api.Config{Address: prom.URL()})
	require.NoError(t, err)
	papi := promv1.NewAPI(pc)
	d, err := boards.RolloutsOverview()
	require.NoError(t, err)
	qs, err := boards.Queries(d, map[string]string{"job": job, "__rate_interval": "1m", "__range": "10m"})
	require.NoError(t, err)
	// Give the scrape a moment to see the last counters move.
	var empty []string
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		empty = empty[:0]
		for _, q := range qs {
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			v, _, _, err := papi.Query(qctx, q.Expr, time.Now())
			cancel()
			if !assert.NoError(ct, err, "%s %s: %s", q.Panel, q.RefID, q.Expr) {
				continue
			}
			if vec, ok := v.(model.Vector); !ok || len(vec) == 0 {
				empty = append(empty, q.Panel+" "+q.RefID+": "+q.Expr)
			}
		}
		assert.Empty(ct, empty, "overview queries without data")
	}, 30*time.Second, time.Second)
	t.Logf("all %d overview queries return data from the worker process's /metrics", len(qs))
}
