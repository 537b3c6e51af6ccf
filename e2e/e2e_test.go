// Package e2e runs whole rollouts on the embedded default: a real Temporal
// dev server, a real worker process, real Prometheus, the demo service's
// versions as processes behind the local router, and real HTTP load.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/demo/stack"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

var (
	engine   *stack.Engine
	toolsDir string
	// workerMetrics is where the shared worker serves /metrics (--metrics-address).
	workerMetrics string
)

// TestMain builds the project's binaries fresh (a stale bin/ must not be
// what is tested) and starts one engine that every scenario shares, as one
// worker serves many rollouts in production.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "canaryflow-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "../worker", "../demo/cmd/demoapp", "../demo/cmd/router")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building binaries:", err)
		return 1
	}
	if toolsDir, err = devstack.BinDir(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	port, err := devstack.FreePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	workerMetrics = fmt.Sprintf("127.0.0.1:%d", port)
	engine, err = stack.StartEngine(ctx, stack.EngineOptions{ToolsDir: toolsDir, BinDir: bin, WorkDir: filepath.Join(dir, "work"),
		WorkerArgs: []string{"--metrics-address", workerMetrics}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the engine:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: worker log tail:\n%s\n", engine.WorkerLog())
	}
	engine.Stop()
	return code
}

// scenario starts an app for t and returns it with a context bounding the test.
func scenario(t *testing.T, o stack.AppOptions) (*stack.App, context.Context) {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	app, err := engine.StartApp(ctx, o)
	require.NoError(t, err)
	t.Cleanup(app.Stop)
	return app, ctx
}

func start(ctx context.Context, t *testing.T, app *stack.App) string {
	t.Helper()
	run, err := control.Start(ctx, engine.Client, app.Spec, "e2e")
	require.NoError(t, err)
	return run.GetID()
}

func finish(ctx context.Context, t *testing.T, id string) (workflows.Result, rollout.Status) {
	t.Helper()
	res, err := control.Wait(ctx, engine.Client, id)
	require.NoError(t, err)
	s, err := control.Status(ctx, engine.Client, id)
	require.NoError(t, err)
	t.Logf("%s ended %s: %s", id, res.Phase, res.Reason)
	return res, s
}

// waitForTraffic waits until the canary has traffic and a successful measurement.
func waitForTraffic(ctx context.Context, t *testing.T, id string) {
	t.Helper()
	var last rollout.Status
	ok := assert.Eventually(t, func() bool {
		s, err := control.Status(ctx, engine.Client, id)
		if err != nil {
			return false
		}
		last = s
		m, ok := s.LastMeasurement()
		return s.Weight > 0 && ok && m.Verdict == rollout.Successful
	}, 90*time.Second, 200*time.Millisecond)
	if !ok {
		t.Fatalf("canary never got traffic and a successful measurement; status:\n%s", control.FormatStatus(last))
	}
}

// servedVersion asks the router for a version with the routing header.
func servedVersion(t *testing.T, app *stack.App, route string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, app.RouterURL+"/api/properties", nil)
	require.NoError(t, err)
	req.Header.Set("X-Canary", route)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("X-App-Version"))
}

// rolledBackAfter triggers a rollback with cause, logs the time from it to
// weight 0 (the figure users feel), and waits for the rollout to end RolledBack.
func rolledBackAfter(ctx context.Context, t *testing.T, app *stack.App, id, what string, cause func() error) (workflows.Result, rollout.Status) {
	t.Helper()
	require.NoError(t, cause())
	took, err := app.TimeToWeightZero(ctx)
	require.NoError(t, err)
	t.Logf("%s to weight 0: %s", what, took.Round(time.Millisecond))
	res, s := finish(ctx, t, id)
	require.Equal(t, rollout.PhaseRolledBack, res.Phase)
	return res, s
}

func requireCanaryGone(t *testing.T, app *stack.App) {
	t.Helper()
	c := http.Client{Timeout: time.Second}
	_, err := c.Get("http://" + app.CanaryAddr + "/health")
	require.Error(t, err, "the canary process must be gone")
}

func TestHealthyCanaryIsPromoted(t *testing.T) {
	app, ctx := scenario(t, stack.AppOptions{Name: "healthy", Hold: 10 * time.Second})
	id := start(ctx, t, app)
	res, s := finish(ctx, t, id)
	require.Equal(t, rollout.PhasePromoted, res.Phase, "reason: %s", res.Reason)

	w, err := app.Weight(ctx)
	require.NoError(t, err)
	assert.Zero(t, w)
	assert.Equal(t, "200 v2", servedVersion(t, app, "never"), "stable must now serve v2")
	requireCanaryGone(t, app)
	require.NotNil(t, s.Smoke)
	assert.True(t, s.Smoke.Passed())
	var successful int
	for _, m := range s.Measurements {
		if m.Verdict == rollout.Successful {
			successful++
			assert.NotEmpty(t, m.Sample.Queries["canary.errorRate"])
		}
	}
	assert.GreaterOrEqual(t, successful, 10, "a promotion must rest on real measurements")
	t.Logf("load during the rollout: %s", app.Load.Snapshot())
}

// Not parallel: it kills the worker every scenario shares, so it runs alone.
func TestWorkerKilledMidRolloutStillPromotes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	app, err := engine.StartApp(ctx, stack.AppOptions{Name: "crash", Hold: 8 * time.Second})
	require.NoError(t, err)
	defer app.Stop()
	id := start(ctx, t, app)
	require.Eventually(t, func() bool {
		s, err := control.Status(ctx, engine.Client, id)
		return err == nil && s.Weight == 25
	}, time.Minute, 100*time.Millisecond)
	engine.KillWorker()
	t.Log("worker killed with SIGKILL at 25%")
	time.Sleep(3 * time.Second)
	assert.Equal(t, "200 v2", servedVersion(t, app, "always"), "the canary keeps serving while no worker runs")
	require.NoError(t, engine.StartWorker())
	res, s := finish(ctx, t, id)
	require.Equal(t, rollout.PhasePromoted, res.Phase, "reason: %s", res.Reason)
	assert.Equal(t, "200 v2", servedVersion(t, app, "never"))
	requireCanaryGone(t, app)
	var weights []string
	for _, e := range s.Events {
		if e.Kind == "weight" {
			weights = append(weights, e.Message)
		}
	}
	assert.Equal(t, []string{"canary weight 0%", "canary weight 10%", "canary weight 25%", "canary weight 50%", "canary weight 0%"}, weights, "no step lost or repeated")
}

func TestErroringCanaryIsRolledBack(t *testing.T) {
	app, ctx := scenario(t, stack.AppOptions{Name: "errors"})
	id := start(ctx, t, app)
	waitForTraffic(ctx, t, id)
	res, s := rolledBackAfter(ctx, t, app, id, "fault injection (20% errors)", func() error {
		return app.InjectCanary(ctx, stack.Faults{ErrorRate: 0.2})
	})
	// The default judgement names the rule and its evidence, judged on the
	// counts a real Prometheus took from the demo's processes.
	assert.Regexp(t, `error-(rate|increase) .*→ Failed`, res.Reason)
	var judged *rollout.Measurement
	for i := range s.Measurements {
		if len(s.Measurements[i].Rules) > 0 {
			judged = &s.Measurements[i]
		}
	}
	require.NotNil(t, judged, "measurements were judged on counts")
	require.NotNil(t, judged.Sample.Cumulative)
	require.NotNil(t, judged.Sample.Window, "and on the last window's counts")
	assert.Positive(t, judged.Sample.Cumulative.Canary.Requests, "Prometheus counted the canary's requests")
	assert.NotEmpty(t, judged.Sample.Cumulative.Canary.Buckets, "and its latency buckets")
	assert.Equal(t, "200 v1", servedVersion(t, app, "never"), "stable must still serve v1")
	requireCanaryGone(t, app)
	assert.FileExists(t, s.IncidentReport)
}

func TestSlowCanaryIsRolledBackOnRelativeLatency(t *testing.T) {
	app, ctx := scenario(t, stack.AppOptions{Name: "slow"})
	id := start(ctx, t, app)
	waitForTraffic(ctx, t, id)
	res, _ := rolledBackAfter(ctx, t, app, id, "fault injection (3x latency)", func() error {
		return app.InjectCanary(ctx, stack.Faults{Latency: "150ms"}) // 3 × the 50 ms both versions normally take
	})
	assert.Regexp(t, `p95-ratio .*→ Failed`, res.Reason)
	assert.Equal(t, "200 v1", servedVersion(t, app, "never"))
	requireCanaryGone(t, app)
}

func TestAbortWithTheTemporalCLIRollsBack(t *testing.T) {
	app, ctx := scenario(t, stack.AppOptions{Name: "aborted"})
	id := start(ctx, t, app)
	waitForTraffic(ctx, t, id)
	res, _ := rolledBackAfter(ctx, t, app, id, "abort signal", func() error {
		cli := exec.CommandContext(ctx, filepath.Join(toolsDir, "temporal"), "workflow", "signal",
			"--address", engine.Temporal.Address(), "--namespace", engine.Temporal.Namespace(),
			"--workflow-id", id, "--name", rollout.SignalAbort, "--input", `{"reason":"wrong build","by":"oncall"}`)
		if out, err := cli.CombinedOutput(); err != nil {
			return fmt.Errorf("temporal workflow signal: %w: %s", err, out)
		}
		return nil
	})
	assert.Equal(t, "aborted by oncall: wrong build", res.Reason)
	requireCanaryGone(t, app)
}

func TestUnknownMetricIsRefusedWithAClearError(t *testing.T) {
	app, ctx := scenario(t, stack.AppOptions{Name: "unknown-metric"})
	app.Spec.Metrics.Prometheus.Metric = "http_request_latency_typo_seconds"
	id := start(ctx, t, app)
	res, s := finish(ctx, t, id)
	require.Equal(t, rollout.PhaseRejected, res.Phase, "a preflight refusal touched nothing: nothing to roll back")
	assert.Empty(t, res.IncidentReport, "no incident for a refusal")
	assert.Contains(t, s.Reason, "http_request_latency_typo_seconds")
	assert.Contains(t, s.Reason, "unknown metric")
	assert.Zero(t, s.Weight)
}

// TestPrometheusGoneMidRolloutRollsBack is also the Prometheus fault of the
// fault tests (faults_test.go): stopped during analysis, it never lets the
// rollout promote, and the rollback comes from the spec's error limit.
func TestPrometheusGoneMidRolloutRollsBack(t *testing.T) {
	app, ctx := scenario(t, stack.AppOptions{Name: "prom-gone"})
	id := start(ctx, t, app)
	waitForTraffic(ctx, t, id)
	res, s := rolledBackAfter(ctx, t, app, id, "Prometheus stopped", app.Prometheus.Stop)
	limit := *app.Spec.WithDefaults().Analysis.Limits.MaxConsecutiveErrors
	assert.Contains(t, res.Reason, fmt.Sprintf("metrics unavailable: %d measurement errors in a row (limit %d)", limit+1, limit))
	errs := 0
	for i := len(s.Measurements) - 1; i >= 0 && s.Measurements[i].Verdict == rollout.Error; i-- {
		errs++
	}
	assert.Equal(t, limit+1, errs, "the rollback came at the limit, on the measurements Prometheus could not answer")
	assert.Zero(t, count(s, "promoted"), "never a promotion")
	for _, e := range s.Events {
		assert.NotContains(t, e.Message, "stable runs v2", "stable was never replaced")
	}
	assert.Equal(t, "200 v1", servedVersion(t, app, "never"))
}

func TestUnreachablePrometheusIsCaughtBeforeDeploying(t *testing.T) {
	app, ctx := scenario(t, stack.AppOptions{Name: "prom-unreachable"})
	port, err := devstack.FreePort()
	require.NoError(t, err)
	app.Spec.Metrics.Prometheus.Address = fmt.Sprintf("http://127.0.0.1:%d", port)
	id := start(ctx, t, app)
	res, s := finish(ctx, t, id)
	require.Equal(t, rollout.PhaseRejected, res.Phase)
	assert.Contains(t, s.Reason, "preflight")
	assert.Contains(t, s.Reason, fmt.Sprintf("127.0.0.1:%d", port))
	assert.NotContains(t, eventKinds(s), "ready", "nothing may be deployed")
}

func TestRouterRefusingAWeightRollsBack(t *testing.T) {
	app, ctx := scenario(t, stack.AppOptions{Name: "refusing", MaxWeight: 20, Hold: 5 * time.Second})
	id := start(ctx, t, app)
	res, s := finish(ctx, t, id)
	require.Equal(t, rollout.PhaseRolledBack, res.Phase)
	assert.Contains(t, res.Reason, "setting canary weight to 25")
	assert.Contains(t, res.Reason, "20")
	assert.Zero(t, s.Weight)
	assert.Equal(t, "200 v1", servedVersion(t, app, "never"))
	requireCanaryGone(t, app)
}

func eventKinds(s rollout.Status) []string {
	out := make([]string, len(s.Events))
	for i, e := range s.Events {
		out[i] = e.Kind
	}
	return out
}

// TestThresholdsStillJudgeWhenTheSpecAsks runs the reference's window
// rules (method: thresholds, no longer the default) on the demo's real
// Prometheus: a canary failing 20 % of its requests is rolled back on its
// window's error rate.
func TestThresholdsStillJudgeWhenTheSpecAsks(t *testing.T) {
	app, ctx := scenario(t, stack.AppOptions{Name: "thresholds"})
	app.Spec.Analysis.Judging.Method = rollout.MethodThresholds
	id := start(ctx, t, app)
	require.Eventually(t, func() bool {
		s, err := control.Status(ctx, engine.Client, id)
		return err == nil && s.Weight > 0
	}, time.Minute, 100*time.Millisecond, "the canary gets traffic")
	require.NoError(t, app.InjectCanary(ctx, stack.Faults{ErrorRate: 0.2}))
	res, s := finish(ctx, t, id)
	require.Equal(t, rollout.PhaseRolledBack, res.Phase)
	assert.Contains(t, res.Reason, "canary error rate")
	for _, m := range s.Measurements {
		assert.Empty(t, m.Rules, "judged by the window rules, not the sequential judge")
	}
	assert.Equal(t, "200 v1", servedVersion(t, app, "never"))
	requireCanaryGone(t, app)
}
