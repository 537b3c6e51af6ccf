package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	deploymem "github.com/canaryflow/canaryflow/activities/deploy/memory"
	"github.com/canaryflow/canaryflow/activities/metrics/prometheus"
	trafficmem "github.com/canaryflow/canaryflow/activities/traffic/memory"
	"github.com/canaryflow/canaryflow/rollout"
)

// watchingDeployer records, at each Deploy, the task queue it ran on and the
// weight the router was serving at that moment.
type watchingDeployer struct {
	*deploymem.Deployer
	router *trafficmem.Router
	mu     sync.Mutex
	queues []string
	weight []int
}

func (d *watchingDeployer) Deploy(ctx context.Context, spec rollout.Spec, role rollout.Role, rel rollout.Release) error {
	w, _ := d.router.Weight(ctx, spec)
	d.mu.Lock()
	d.queues = append(d.queues, activity.GetInfo(ctx).TaskQueue)
	d.weight = append(d.weight, w)
	d.mu.Unlock()
	return d.Deployer.Deploy(ctx, spec, role, rel)
}

func TestAWeightLeftOnTheRouterIsZeroedBeforeTheCanaryIsDeployed(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	// A rollout that ended badly (terminated, RollbackFailed resolved) left 25 %.
	require.NoError(t, h.router.SetWeight(context.Background(), spec, 25))
	d := &watchingDeployer{Deployer: h.deploy, router: h.router}
	h.acts.Deployers["memory"] = d
	h.run(spec)
	h.requirePromoted()
	require.NotEmpty(t, d.weight)
	assert.Equal(t, 0, d.weight[0], "the canary is deployed only once the router reads back 0")
}

func TestHostBoundRolloutsRunOnTheOwningWorkersQueue(t *testing.T) {
	h := newHarness(t, nil)
	d := &watchingDeployer{Deployer: h.deploy, router: h.router}
	h.acts.Deployers["local"] = d
	h.acts.HostQueue = "canaryflow@host-a:/var/lib/canaryflow"
	spec := testSpec()
	spec.Deploy = rollout.Deploy{Kind: "local", Local: &rollout.LocalDeploy{StableAddr: "127.0.0.1:8081", CanaryAddr: "127.0.0.1:8082"}}
	h.run(spec)
	require.NoError(t, h.env.GetWorkflowError())
	require.NotEmpty(t, d.queues)
	for _, q := range d.queues {
		assert.Equal(t, h.acts.HostQueue, q, "every deploy runs on the host that owns the processes")
	}
	assert.Contains(t, eventKinds(h.status()), "placed")
}

func TestMemoryRolloutsNeedNoPlacement(t *testing.T) {
	h := newHarness(t, nil)
	d := &watchingDeployer{Deployer: h.deploy, router: h.router}
	h.acts.Deployers["memory"] = d
	h.acts.HostQueue = "canaryflow@host-a:/x"
	h.run(testSpec())
	h.requirePromoted()
	require.NotEmpty(t, d.queues)
	for _, q := range d.queues {
		assert.NotEqual(t, h.acts.HostQueue, q, "any worker may serve a rollout that touches no host")
	}
	assert.NotContains(t, eventKinds(h.status()), "placed")
}

func TestMeasureOutlastsTheMetricsQueryTimeout(t *testing.T) {
	spec := testSpec().WithDefaults()
	spec.Analysis.Interval = rollout.Duration(time.Second)
	assert.Greater(t, opts.measure(spec).StartToCloseTimeout, prometheus.DefaultQueryTimeout,
		"a slow query is reported by the source with its reason, not cut off by Temporal")
}
