package telemetry

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

func newHandler(t *testing.T) (*PrometheusHandler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := NewPrometheusHandler(reg, slog.Default())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, h.Close(context.Background())) })
	return h, reg
}

// families gathers reg by name.
func families(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// find returns the series of family name whose labels include want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	mf, ok := fams[name]
	require.True(t, ok, "no metric family %s; have %v", name, keys(fams))
	for _, m := range mf.GetMetric() {
		l := labels(m)
		match := true
		for k, v := range want {
			match = match && l[k] == v
		}
		if match {
			return m
		}
	}
	t.Fatalf("no %s series with labels %v", name, want)
	return nil
}

func keys(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for k := range fams {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestExposedAsDocumented emits every canaryflow_* metric through the SDK
// handler and checks that the registry exposes each under its documented
// name, type, labels, help and buckets, with no scope labels added.
func TestExposedAsDocumented(t *testing.T) {
	h, reg := newHandler(t)
	EnterPhase(h, rollout.PhaseProgressing)
	Ended(h, rollout.PhasePromoted, 90*time.Second)
	RollbackBegun(h, CauseAnalysis)
	Measurement(h, rollout.Successful)
	SetWeight(h, "production", "shop", 25)
	StepEnded(h, "pause", 20*time.Second)

	fams := families(t, reg)
	want := map[Kind]dto.MetricType{Counter: dto.MetricType_COUNTER, Gauge: dto.MetricType_GAUGE, Histogram: dto.MetricType_HISTOGRAM}
	for _, m := range Metrics {
		mf, ok := fams[m.Name]
		if !assert.True(t, ok, "%s is not exposed; have %v", m.Name, keys(fams)) {
			continue
		}
		assert.Equal(t, want[m.Kind], mf.GetType(), m.Name)
		assert.Equal(t, m.Help, mf.GetHelp(), m.Name)
		require.Len(t, mf.GetMetric(), 1, m.Name)
		var got []string
		for k := range labels(mf.GetMetric()[0]) {
			got = append(got, k)
		}
		assert.ElementsMatch(t, m.Labels, got, "%s labels (no otel_scope_* either)", m.Name)
		if m.Kind == Histogram {
			var bounds []float64
			for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
				bounds = append(bounds, b.GetUpperBound())
			}
			assert.Equal(t, m.Buckets, bounds, m.Name)
		}
		assert.True(t, strings.HasPrefix(m.Name, "canaryflow_"), m.Name)
	}
	assert.NotContains(t, fams, "target_info")

	assert.Equal(t, 25.0, find(t, fams, "canaryflow_rollout_weight_percent", map[string]string{"rollout_namespace": "production", "rollout_app": "shop"}).GetGauge().GetValue())
	d := find(t, fams, "canaryflow_rollout_duration_seconds", map[string]string{"phase": "Promoted"}).GetHistogram()
	assert.Equal(t, uint64(1), d.GetSampleCount())
	assert.Equal(t, 90.0, d.GetSampleSum())
}

// TestSDKTimersUseSecondBuckets: the SDK's own latencies must not all fall
// in OpenTelemetry's first default bucket (0–5, meant for milliseconds).
func TestSDKTimersUseSecondBuckets(t *testing.T) {
	h, reg := newHandler(t)
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Timer("temporal_request_latency").Record(30 * time.Millisecond)
	h.Counter("temporal_request").Inc(2)
	fams := families(t, reg)
	hist := find(t, fams, "temporal_request_latency_seconds", nil).GetHistogram()
	var bounds []float64
	for _, b := range hist.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		if b.GetUpperBound() == 0.025 {
			assert.Zero(t, b.GetCumulativeCount(), "30ms is above 25ms")
		}
		if b.GetUpperBound() == 0.05 {
			assert.Equal(t, uint64(1), b.GetCumulativeCount(), "30ms is below 50ms")
		}
	}
	assert.Equal(t, sdkBuckets, bounds)
	assert.Equal(t, 2.0, find(t, fams, "temporal_request_total", nil).GetCounter().GetValue(), "SDK counters are monotonic: _total")
}

func TestRollbackCause(t *testing.T) {
	for reason, want := range map[string]string{
		"analysis failed at 25% canary weight: error rate 20% > 5%":                        CauseAnalysis,
		"analysis inconclusive 4 times in a row at 10% canary weight (limit 3): x":         CauseAnalysis,
		"metrics unavailable: 5 measurement errors in a row (limit 4): connection refused": CauseAnalysis,
		"25% still undecided after holding 10m0s more: p = 0.2":                            CauseAnalysis,
		"smoke tests failed: /health answered 500":                                         CauseSmoke,
		"smoke testing the canary: timed out (start_to_close)":                             CauseSmoke,
		"aborted by alice: p99 too high":                                                   CauseAbort,
		"aborted":                                                                          CauseAbort,
		"approval of step 4 not given within 1h0m0s":                                       CauseApprovalTimeout,
		"workflow cancelled":                                                               CauseCancelled,
		"deploying canary v2: helm upgrade failed":                                         CauseError,
		"":                                   CauseError,
		"analysisX":                          CauseError,
		"abc% still undecided after holding": CauseError,
	} {
		assert.Equal(t, want, RollbackCause(reason), "%q", reason)
	}
}

func TestStepKind(t *testing.T) {
	assert.Equal(t, "setWeight", StepKind(rollout.Weight(10)))
	assert.Equal(t, "pause", StepKind(rollout.Hold(time.Minute)))
	assert.Equal(t, "approval", StepKind(rollout.ApprovalGate(time.Hour, "abort")))
	assert.Equal(t, "analysis", StepKind(rollout.Step{Analysis: &rollout.AnalysisStep{Measurements: 2}}))
	assert.Equal(t, "other", StepKind(rollout.Step{}))
}

// lifeWorkflow walks a rollout's life the way the CanaryRollout workflow
// calls telemetry: two steps, a failed measurement, a rollback that fails,
// a person's retry and a resolution.
func lifeWorkflow(ctx workflow.Context) error {
	steps := []rollout.Step{rollout.Weight(10), rollout.Hold(time.Minute)}
	s := rollout.Status{Namespace: "production", App: "shop", Phase: rollout.PhaseValidating,
		Events: []rollout.Event{{At: workflow.Now(ctx), Kind: "start"}}}
	phase := func(p rollout.Phase) {
		PhaseChanged(ctx, steps, s, p)
		s.Phase = p
	}
	begin := func(i int) {
		StepBegun(ctx, steps, s)
		s.Step, s.StepStartedAt = i+1, workflow.Now(ctx)
	}
	phase(rollout.PhaseDeploying)
	phase(rollout.PhaseSmokeTesting)
	phase(rollout.PhaseProgressing)
	begin(0)
	WeightSet(ctx, s.Namespace, s.App, 10)
	if err := workflow.Sleep(ctx, 5*time.Second); err != nil {
		return err
	}
	begin(1)
	if err := workflow.Sleep(ctx, 40*time.Second); err != nil {
		return err
	}
	Measured(ctx, rollout.Failed)
	s.Reason = "analysis failed at 10% canary weight: error rate 20% > 5%"
	phase(rollout.PhaseRollingBack)
	phase(rollout.PhaseRollbackFailed)
	phase(rollout.PhaseRollingBack) // a person's retry-rollback: not a new rollback
	phase(rollout.PhaseRollbackFailed)
	if err := workflow.Sleep(ctx, time.Minute); err != nil {
		return err
	}
	Resolved(ctx, s)
	return nil
}

// TestWorkflowSideCounts runs the workflow-side calls in the SDK's test
// environment with the Prometheus handler and checks what a rollout's life
// adds up to: each phase entered once per entry, one rollback (the retry is
// not one), step durations on the workflow clock, the rollout's duration from
// its first event to the resolution.
func TestWorkflowSideCounts(t *testing.T) {
	h, reg := newHandler(t)
	var suite testsuite.WorkflowTestSuite
	suite.SetMetricsHandler(h)
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(lifeWorkflow)
	env.ExecuteWorkflow(lifeWorkflow)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	fams := families(t, reg)
	counter := func(name string, l map[string]string) float64 {
		return find(t, fams, name, l).GetCounter().GetValue()
	}
	for p, n := range map[string]float64{"Deploying": 1, "SmokeTesting": 1, "Progressing": 1, "RollingBack": 2, "RollbackFailed": 2} {
		assert.Equal(t, n, counter("canaryflow_rollout_phase_entered_total", map[string]string{"phase": p}), p)
	}
	assert.Len(t, fams["canaryflow_rollout_phase_entered_total"].GetMetric(), 5)
	assert.Equal(t, 1.0, counter("canaryflow_rollbacks_total", map[string]string{"cause": "analysis"}))
	assert.Len(t, fams["canaryflow_rollbacks_total"].GetMetric(), 1)
	assert.Equal(t, 1.0, counter("canaryflow_measurements_total", map[string]string{"verdict": "Failed"}))
	assert.Equal(t, 1.0, counter("canaryflow_rollouts_ended_total", map[string]string{"phase": "RollbackFailed"}))

	step := func(kind string) *dto.Histogram {
		return find(t, fams, "canaryflow_step_duration_seconds", map[string]string{"kind": kind}).GetHistogram()
	}
	assert.Equal(t, 5.0, step("setWeight").GetSampleSum(), "setWeight lasted until the hold began")
	assert.Equal(t, 40.0, step("pause").GetSampleSum(), "the hold ended when the rollback began")
	assert.Equal(t, uint64(1), step("pause").GetSampleCount(), "the retry does not end the step again")
	total := find(t, fams, "canaryflow_rollout_duration_seconds", map[string]string{"phase": "RollbackFailed"}).GetHistogram()
	assert.Equal(t, 105.0, total.GetSampleSum())

	// The weight gauge of a rollout that failed to roll back keeps its last
	// value: traffic may still reach the canary.
	w := find(t, fams, "canaryflow_rollout_weight_percent", map[string]string{"rollout_app": "shop"})
	assert.Equal(t, 10.0, w.GetGauge().GetValue())
	// Per-rollout labels only on the gauge.
	for name, mf := range fams {
		if !strings.HasPrefix(name, "canaryflow_") || name == "canaryflow_rollout_weight_percent" {
			continue
		}
		for _, m := range mf.GetMetric() {
			assert.False(t, slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == LabelRolloutApp || l.GetName() == LabelRolloutNamespace
			}), "%s carries a per-rollout label", name)
		}
	}
}

// TestPromotedAndRejectedEnd: a promoted rollout ends with weight 0 and its
// last step timed; a rejected one ends without a weight series (its names
// are not trusted as labels).
func TestPromotedAndRejectedEnd(t *testing.T) {
	h, reg := newHandler(t)
	var suite testsuite.WorkflowTestSuite
	suite.SetMetricsHandler(h)
	env := suite.NewTestWorkflowEnvironment()
	promoted := func(ctx workflow.Context) error {
		steps := []rollout.Step{rollout.Weight(50)}
		s := rollout.Status{Namespace: "sandbox", App: "web", Phase: rollout.PhaseProgressing, Step: 1, StepStartedAt: workflow.Now(ctx),
			Events: []rollout.Event{{At: workflow.Now(ctx)}}}
		WeightSet(ctx, "sandbox", "web", 50)
		if err := workflow.Sleep(ctx, 30*time.Second); err != nil {
			return err
		}
		PhaseChanged(ctx, steps, s, rollout.PhasePromoting)
		s.Phase = rollout.PhasePromoting
		PhaseChanged(ctx, steps, s, rollout.PhasePromoted)
		PhaseChanged(ctx, nil, rollout.Status{Namespace: "bad ns", App: "x", Phase: rollout.PhaseValidating}, rollout.PhaseRejected)
		return nil
	}
	env.RegisterWorkflowWithOptions(promoted, workflow.RegisterOptions{Name: "promoted"})
	env.ExecuteWorkflow("promoted")
	require.NoError(t, env.GetWorkflowError())

	fams := families(t, reg)
	assert.Len(t, fams["canaryflow_rollout_weight_percent"].GetMetric(), 1)
	assert.Zero(t, find(t, fams, "canaryflow_rollout_weight_percent", map[string]string{"rollout_app": "web"}).GetGauge().GetValue())
	assert.Equal(t, 30.0, find(t, fams, "canaryflow_step_duration_seconds", map[string]string{"kind": "setWeight"}).GetHistogram().GetSampleSum())
	assert.Equal(t, 1.0, find(t, fams, "canaryflow_rollouts_ended_total", map[string]string{"phase": "Promoted"}).GetCounter().GetValue())
	assert.Equal(t, 1.0, find(t, fams, "canaryflow_rollouts_ended_total", map[string]string{"phase": "Rejected"}).GetCounter().GetValue())
	assert.Equal(t, 0.0, find(t, fams, "canaryflow_rollout_duration_seconds", map[string]string{"phase": "Rejected"}).GetHistogram().GetSampleSum(),
		"a rollout rejected before its first event took no time")
}
