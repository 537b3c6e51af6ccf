// Package memengine runs CanaryRollout for tests the way production does —
// a real Temporal dev server, a worker polling the real task queue — with
// the in-memory providers, so what a test asserts about deploys, weights and
// notifications is what the providers were really asked to do. The CLI,
// Slack, worker-metrics and integration tests share it instead of each
// wiring its own worker.
package memengine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/canaryflow/canaryflow/activities"
	deploymem "github.com/canaryflow/canaryflow/activities/deploy/memory"
	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	notifymem "github.com/canaryflow/canaryflow/activities/notify/memory"
	trafficmem "github.com/canaryflow/canaryflow/activities/traffic/memory"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/workflows"
)

// Kind is the provider kind of every in-memory provider ("memory"), and
// NotifyKind the notifier's ("log"), as specs name them.
const (
	Kind       = "memory"
	NotifyKind = "log"
)

// Engine is a dev server, a client on it, and the activities a worker
// will serve. Tests may replace a provider in Activities before
// StartWorker (a router that refuses, a Slack notifier).
type Engine struct {
	Server     *devstack.Temporal
	Client     client.Client
	Deploy     *deploymem.Deployer
	Router     *trafficmem.Router
	Metrics    *metricsmem.Metrics
	Notes      *notifymem.Notifier
	Activities *activities.Activities
}

// New starts a dev server for t and dials it; the worker is not started.
func New(t testing.TB) *Engine {
	t.Helper()
	return NewWith(t, devstack.TemporalOptions{})
}

// NewWith is New on a dev server started with opts (the scale benchmark
// sizes the server's per-shard queue limits through them).
func NewWith(t testing.TB, opts devstack.TemporalOptions) *Engine {
	t.Helper()
	srv := testenv.TemporalWith(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := control.Dial(ctx, srv.Address(), srv.Namespace())
	require.NoError(t, err)
	t.Cleanup(c.Close)
	e := &Engine{Server: srv, Client: c, Deploy: deploymem.New(), Router: trafficmem.New(), Metrics: metricsmem.New(nil), Notes: &notifymem.Notifier{}}
	e.Activities = &activities.Activities{
		Deployers:    map[string]activities.Deployer{Kind: e.Deploy},
		Routers:      map[string]activities.TrafficRouter{Kind: e.Router},
		Metrics:      map[string]activities.MetricsSource{Kind: e.Metrics},
		Notifiers:    map[string]activities.Notifier{NotifyKind: e.Notes},
		IncidentDir:  t.TempDir(),
		PollInterval: 50 * time.Millisecond,
	}
	return e
}

// StartWorker starts a worker on c (the engine's client when nil) serving
// the workflow and the engine's activities. The returned func stops it
// the way a killed process stops serving; t's cleanup stops it too.
func (e *Engine) StartWorker(t testing.TB, c client.Client) (stop func()) {
	t.Helper()
	return e.StartWorkerWith(t, c, worker.Options{})
}

// StartWorkerWith is StartWorker with the worker's options (pollers,
// concurrency), for benchmarks that measure them.
func (e *Engine) StartWorkerWith(t testing.TB, c client.Client, o worker.Options) (stop func()) {
	t.Helper()
	if c == nil {
		c = e.Client
	}
	w := worker.New(c, workflows.TaskQueue, o)
	w.RegisterWorkflow(workflows.CanaryRollout)
	w.RegisterActivity(e.Activities)
	require.NoError(t, w.Start())
	var once sync.Once
	stop = func() { once.Do(w.Stop) }
	t.Cleanup(stop)
	return stop
}
