// Package integration runs rollouts through the real client API against a
// real Temporal dev server and a real worker, with in-memory providers: it
// proves the engine end to end (durability, signals, one rollout per app)
// and captures the replay histories the workflow package replays.
package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/activities"
	deploymem "github.com/canaryflow/canaryflow/activities/deploy/memory"
	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	trafficmem "github.com/canaryflow/canaryflow/activities/traffic/memory"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/memengine"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

// engine is memengine's dev server, client and in-memory providers under
// the short names these tests use.
type engine struct {
	m       *memengine.Engine
	srv     *devstack.Temporal
	c       client.Client
	acts    *activities.Activities
	deploy  *deploymem.Deployer
	router  *trafficmem.Router
	metrics *metricsmem.Metrics
}

func startEngine(t testing.TB) *engine { return startEngineWith(t, devstack.TemporalOptions{}) }

// startEngineWith is startEngine on a dev server started with opts.
func startEngineWith(t testing.TB, opts devstack.TemporalOptions) *engine {
	m := memengine.NewWith(t, opts)
	return &engine{m: m, srv: m.Server, c: m.Client, acts: m.Activities, deploy: m.Deploy, router: m.Router, metrics: m.Metrics}
}

// startWorker starts a worker; the returned func stops it like a killed process would stop serving.
func (e *engine) startWorker(t testing.TB) func() { return e.m.StartWorker(t, nil) }

// quickSpec is a short real-time plan: 10 % → 3 s → 50 % → 3 s, measured every second.
func quickSpec(app string) rollout.Spec {
	return rollout.Spec{
		Version: rollout.FormatV1, App: app, Namespace: "it",
		Stable: rollout.Release{Version: "v1"}, Canary: rollout.Release{Version: "v2"},
		Deploy: rollout.Deploy{Kind: "memory"}, Traffic: rollout.Traffic{Kind: "memory"},
		Metrics: rollout.Metrics{Kind: "memory"}, Smoke: rollout.Smoke{Skip: true},
		Steps:    []rollout.Step{rollout.Weight(10), rollout.Hold(3 * time.Second), rollout.Weight(50), rollout.Hold(3 * time.Second)},
		Analysis: rollout.Analysis{Interval: rollout.Duration(time.Second)},
	}
}

func TestRolloutsOnARealTemporalServer(t *testing.T) {
	e := startEngine(t)
	e.metrics.ByApp["bad"] = func(n int) (rollout.Sample, error) {
		if n > 2 {
			return metricsmem.With(func(c *rollout.VersionFigures) { c.ErrorRate = 0.2 }), nil
		}
		return metricsmem.Healthy(), nil
	}
	e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	good, err := control.Start(ctx, e.c, quickSpec("good"), "it")
	require.NoError(t, err)
	bad, err := control.Start(ctx, e.c, quickSpec("bad"), "it")
	require.NoError(t, err)
	gateSpec := quickSpec("gated")
	gateSpec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, "")}
	gated, err := control.Start(ctx, e.c, gateSpec, "it")
	require.NoError(t, err)

	t.Run("a second rollout of the same app is refused", func(t *testing.T) {
		_, err := control.Start(ctx, e.c, gateSpec, "it")
		require.ErrorIs(t, err, control.ErrAlreadyRunning)
		assert.Contains(t, err.Error(), "workflow canary-it.gated (run "+gated.GetRunID()+")")
	})

	t.Run("promoted", func(t *testing.T) {
		res, err := control.Wait(ctx, e.c, good.GetID())
		require.NoError(t, err)
		assert.Equal(t, rollout.PhasePromoted, res.Phase)
		rel, _ := e.deploy.Running(quickSpec("good"), rollout.RoleStable)
		assert.Equal(t, "v2", rel.Version)
		w, _ := e.router.Weight(ctx, quickSpec("good"))
		assert.Zero(t, w)
		s, err := control.Status(ctx, e.c, good.GetID())
		require.NoError(t, err)
		assert.GreaterOrEqual(t, len(s.Measurements), 4)

		// The Temporal UI shows the rollout's current details without a query of ours.
		v, err := e.c.QueryWorkflow(ctx, good.GetID(), "", "__temporal_workflow_metadata")
		require.NoError(t, err)
		var md sdkpb.WorkflowMetadata
		require.NoError(t, v.Get(&md))
		assert.Contains(t, md.GetCurrentDetails(), "**Promoted** it/good v1 → v2, canary weight **0%**")
		assert.Contains(t, md.GetCurrentDetails(), "last measurement")
	})

	t.Run("rolled back by analysis", func(t *testing.T) {
		res, err := control.Wait(ctx, e.c, bad.GetID())
		require.NoError(t, err)
		assert.Equal(t, rollout.PhaseRolledBack, res.Phase)
		assert.Contains(t, res.Reason, "canary error rate 20.00% > 5.00%")
		assert.FileExists(t, res.IncidentReport)
		_, running := e.deploy.Running(quickSpec("bad"), rollout.RoleCanary)
		assert.False(t, running)
	})

	t.Run("aborted while waiting for approval", func(t *testing.T) {
		require.Eventually(t, func() bool {
			s, err := control.Status(ctx, e.c, gated.GetID())
			return err == nil && s.Phase == rollout.PhaseAwaitApproval
		}, 30*time.Second, 100*time.Millisecond)
		require.NoError(t, control.Signal(ctx, e.c, gated.GetID(), rollout.SignalAbort, rollout.Abort{Reason: "wrong build", By: "it"}))
		res, err := control.Wait(ctx, e.c, gated.GetID())
		require.NoError(t, err)
		assert.Equal(t, rollout.PhaseRolledBack, res.Phase)
		assert.Equal(t, "aborted by it: wrong build", res.Reason)
	})

	t.Run("a finished rollout's app can be rolled out again", func(t *testing.T) {
		again, err := control.Start(ctx, e.c, quickSpec("good"), "it")
		require.NoError(t, err)
		require.NoError(t, control.Signal(ctx, e.c, again.GetID(), rollout.SignalAbort, rollout.Abort{By: "it"}))
		res, err := control.Wait(ctx, e.c, again.GetID())
		require.NoError(t, err)
		assert.Equal(t, rollout.PhaseRolledBack, res.Phase)
	})

	// Every real history must replay on the current code; with
	// CANARYFLOW_CAPTURE_HISTORIES=1 they become the committed replay fixtures.
	for name, run := range map[string]client.WorkflowRun{"promoted": good, "rolled-back": bad, "aborted": gated} {
		t.Run("history replays: "+name, func(t *testing.T) {
			replayAndCapture(ctx, t, e.c, name, run.GetID(), run.GetRunID())
		})
	}
}

// replayAndCapture replays a real run's history on the current code; with
// CANARYFLOW_CAPTURE_HISTORIES=1 it also becomes a committed replay fixture.
func replayAndCapture(ctx context.Context, t *testing.T, c client.Client, name, id, runID string) {
	data := history(ctx, t, c, id, runID)
	path := filepath.Join(t.TempDir(), name+".json")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	require.NoError(t, workflows.ReplayFile(path))
	if os.Getenv("CANARYFLOW_CAPTURE_HISTORIES") == "1" {
		dst := filepath.Join("..", "workflows", "testdata", "histories", name+".json")
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, data, 0o644))
		t.Logf("captured %s", dst)
	}
}

func history(ctx context.Context, t *testing.T, c client.Client, id, runID string) []byte {
	it := c.GetWorkflowHistory(ctx, id, runID, false, 0)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events = append(events, ev)
	}
	data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(&historypb.History{Events: events})
	require.NoError(t, err)
	return data
}

func TestInvalidSpecStartsNothing(t *testing.T) {
	e := startEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec := quickSpec("Not_Valid")
	spec.Steps = []rollout.Step{rollout.Weight(0)}
	_, err := control.Start(ctx, e.c, spec, "it")
	var v *rollout.ValidationError
	require.True(t, errors.As(err, &v), "got %v", err)
	assert.Len(t, v.Problems, 2)
	_, err = e.c.DescribeWorkflowExecution(ctx, rollout.WorkflowID("it", "Not_Valid"), "")
	var nf *serviceerror.NotFound
	assert.True(t, errors.As(err, &nf), "no workflow may exist, got %v", err)
}

func TestAWorkerKilledMidRolloutLosesNothing(t *testing.T) {
	e := startEngine(t)
	stop := e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := quickSpec("durable")
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(4 * time.Second), rollout.Weight(50), rollout.Hold(2 * time.Second)}
	run, err := control.Start(ctx, e.c, spec, "it")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s, err := control.Status(ctx, e.c, run.GetID())
		return err == nil && s.Step == 2
	}, 30*time.Second, 50*time.Millisecond)
	stop() // the worker dies in the middle of the 10 % hold
	time.Sleep(2 * time.Second)
	e.startWorker(t) // a new worker picks the rollout up where it was
	res, err := control.Wait(ctx, e.c, run.GetID())
	require.NoError(t, err)
	assert.Equal(t, rollout.PhasePromoted, res.Phase)
	assert.Equal(t, []int{0, 10, 50, 0}, e.router.History(), "no step lost or repeated")
	assert.Equal(t, []string{"deploy canary v2", "deploy stable v2", "remove canary"}, e.deploy.Calls())
}

func TestContinueAsNewOnARealServer(t *testing.T) {
	e := startEngine(t)
	e.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := quickSpec("long").WithDefaults()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(6 * time.Second)}
	id := rollout.WorkflowID(spec.Namespace, spec.App)
	_, err := e.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
		workflows.CanaryRollout, workflows.Input{Spec: spec, By: "it", MeasurementsPerRun: 2})
	require.NoError(t, err)
	res, err := control.Wait(ctx, e.c, id)
	require.NoError(t, err)
	assert.Equal(t, rollout.PhasePromoted, res.Phase)
	s, err := control.Status(ctx, e.c, id)
	require.NoError(t, err)
	var continued int
	for _, ev := range s.Events {
		if ev.Kind == "continue-as-new" {
			continued++
		}
	}
	assert.GreaterOrEqual(t, continued, 2, "the hold spans several runs")
	assert.Equal(t, []int{0, 10, 0}, e.router.History())
	assert.Equal(t, []string{"deploy canary v2", "deploy stable v2", "remove canary"}, e.deploy.Calls())
	// The last run started from a Resume input: its history must replay too.
	replayAndCapture(ctx, t, e.c, "continued", id, "")
}
