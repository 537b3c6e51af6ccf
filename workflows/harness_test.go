package workflows

import (
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/activities"
	deploymem "github.com/canaryflow/canaryflow/activities/deploy/memory"
	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	notifymem "github.com/canaryflow/canaryflow/activities/notify/memory"
	trafficmem "github.com/canaryflow/canaryflow/activities/traffic/memory"
	"github.com/canaryflow/canaryflow/rollout"
)

// harness runs CanaryRollout in Temporal's test environment (time skipped)
// with the real activities over in-memory providers, so what is asserted is
// what the providers were actually asked to do.
type harness struct {
	t       *testing.T
	env     *testsuite.TestWorkflowEnvironment
	deploy  *deploymem.Deployer
	router  *trafficmem.Router
	metrics *metricsmem.Metrics
	notes   *notifymem.Notifier
	acts    *activities.Activities
}

func newHarness(t *testing.T, script metricsmem.Script) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	h := &harness{
		t: t, env: s.NewTestWorkflowEnvironment(),
		deploy: deploymem.New(), router: trafficmem.New(), metrics: metricsmem.New(script), notes: &notifymem.Notifier{},
	}
	h.acts = &activities.Activities{
		Deployers:    map[string]activities.Deployer{"memory": h.deploy},
		Routers:      map[string]activities.TrafficRouter{"memory": h.router},
		Metrics:      map[string]activities.MetricsSource{"memory": h.metrics},
		Notifiers:    map[string]activities.Notifier{"log": h.notes},
		IncidentDir:  t.TempDir(),
		PollInterval: time.Millisecond,
	}
	h.env.SetTestTimeout(30 * time.Second)
	h.env.RegisterWorkflow(CanaryRollout)
	h.env.RegisterActivity(h.acts)
	return h
}

// testSpec is the reference plan over in-memory providers, smoke tests
// skipped, judged by the reference's thresholds: the scripted samples carry
// rates, not counts. Sequential judgement (the default) has its own tests.
func testSpec() rollout.Spec {
	return rollout.Spec{
		Version: rollout.FormatV1, App: "shop", Namespace: "prod",
		Stable: rollout.Release{Version: "v1"}, Canary: rollout.Release{Version: "v2"},
		Deploy: rollout.Deploy{Kind: "memory"}, Traffic: rollout.Traffic{Kind: "memory"},
		Metrics: rollout.Metrics{Kind: "memory"}, Smoke: rollout.Smoke{Skip: true},
		Analysis: rollout.Analysis{Judging: rollout.Judging{Method: rollout.MethodThresholds}},
	}
}

func (h *harness) run(spec rollout.Spec) {
	h.runInput(Input{Spec: spec, By: "test"})
}

func (h *harness) runInput(in Input) {
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: rollout.WorkflowID(in.Spec.Namespace, in.Spec.App)})
	h.env.ExecuteWorkflow(CanaryRollout, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
}

// continued returns the input the finished run continued as new with, and
// moves the harness to a fresh environment (same providers) to run it, as
// the server would.
func (h *harness) continued() Input {
	h.t.Helper()
	var next *workflow.ContinueAsNewError
	require.True(h.t, errors.As(h.env.GetWorkflowError(), &next), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var in Input
	require.NoError(h.t, converter.GetDefaultDataConverter().FromPayloads(next.Input, &in))
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	h.env = s.NewTestWorkflowEnvironment()
	h.env.SetTestTimeout(30 * time.Second)
	// The next run starts when the last one ended, as on a real server.
	if ev := in.Resume.Status.Events; len(ev) > 0 {
		h.env.SetStartTime(ev[len(ev)-1].At)
	}
	h.env.RegisterWorkflow(CanaryRollout)
	h.env.RegisterActivity(h.acts)
	h.env.SetContinuedExecutionRunID("previous-run")
	return in
}

// at schedules fn at d of workflow time.
func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

func (h *harness) signal(d time.Duration, name string, payload any) {
	h.at(d, func() { h.env.SignalWorkflow(name, payload) })
}

func (h *harness) status() rollout.Status {
	v, err := h.env.QueryWorkflow(rollout.QueryStatus)
	require.NoError(h.t, err)
	var s rollout.Status
	require.NoError(h.t, v.Get(&s))
	return s
}

func (h *harness) requirePromoted() {
	h.t.Helper()
	require.NoError(h.t, h.env.GetWorkflowError())
	var res Result
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	require.Equal(h.t, rollout.PhasePromoted, res.Phase)
	rel, ok := h.deploy.Running(testSpec(), rollout.RoleStable)
	require.True(h.t, ok)
	require.Equal(h.t, "v2", rel.Version, "stable must run the canary's version")
	_, canary := h.deploy.Running(testSpec(), rollout.RoleCanary)
	require.False(h.t, canary, "canary must be removed")
	hist := h.router.History()
	require.Equal(h.t, 0, hist[len(hist)-1], "all traffic must end on stable")
}

// requireRolledBack checks the known end state of a rollback and returns its reason.
func (h *harness) requireRolledBack() string {
	h.t.Helper()
	err := h.env.GetWorkflowError()
	require.Error(h.t, err)
	var app *temporal.ApplicationError
	require.True(h.t, errors.As(err, &app), "want an application error, got %v", err)
	require.Equal(h.t, ErrTypeRolledBack, app.Type())
	var res Result
	require.NoError(h.t, app.Details(&res))
	require.Equal(h.t, rollout.PhaseRolledBack, res.Phase)
	require.NotEmpty(h.t, res.IncidentReport)
	require.FileExists(h.t, res.IncidentReport)
	h.requireCompensated()
	require.Contains(h.t, h.notes.Events(), string(rollout.PhaseRolledBack))
	return res.Reason
}

// requireCompensated checks weight 0 came before the canary's removal and stable still runs v1.
func (h *harness) requireCompensated() {
	h.t.Helper()
	hist := h.router.History()
	require.NotEmpty(h.t, hist)
	require.Equal(h.t, 0, hist[len(hist)-1], "traffic must end on stable")
	_, canary := h.deploy.Running(testSpec(), rollout.RoleCanary)
	require.False(h.t, canary, "canary must be removed")
	if rel, ok := h.deploy.Running(testSpec(), rollout.RoleStable); ok {
		require.Equal(h.t, "v1", rel.Version)
	}
	calls := h.deploy.Calls()
	require.Equal(h.t, "remove canary", calls[len(calls)-1])
}

// eventKinds lists the status events' kinds in order.
func eventKinds(s rollout.Status) []string {
	out := make([]string, len(s.Events))
	for i, e := range s.Events {
		out[i] = e.Kind
	}
	return out
}

var anyCtx, anyArg = mock.Anything, mock.Anything
