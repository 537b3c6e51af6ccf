package activities

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// slowDeployer takes a while over every call, like a Helm upgrade.
type slowDeployer struct{ took time.Duration }

func (d slowDeployer) Deploy(ctx context.Context, _ rollout.Spec, _ rollout.Role, _ rollout.Release) error {
	return d.wait(ctx)
}

func (d slowDeployer) Ready(context.Context, rollout.Spec, rollout.Role) (bool, string, error) {
	return true, "", nil
}

func (d slowDeployer) Remove(ctx context.Context, _ rollout.Spec, _ rollout.Role) error {
	return d.wait(ctx)
}

func (d slowDeployer) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d.took):
		return nil
	}
}

// heartbeatTimeout is far shorter than the activities below take: only
// regular heartbeats keep them alive.
const heartbeatTimeout = time.Second

// callOnce runs one activity with a heartbeat timeout and no retry, the way
// the workflow calls Deploy, Remove and SmokeTest.
func callOnce(ctx workflow.Context, name string, arg any) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	return workflow.ExecuteActivity(ctx, name, arg).Get(ctx, nil)
}

// heartbeats runs an activity from a workflow in Temporal's test
// environment, which fails it on a missed heartbeat, and returns the
// details of every heartbeat recorded.
func heartbeats(t *testing.T, a *Activities, name string, arg any) []string {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(a)
	env.RegisterWorkflowWithOptions(callOnce, workflow.RegisterOptions{Name: "callOnce"})
	var (
		mu  sync.Mutex
		got []string
	)
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var s string
		require.NoError(t, d.Get(&s))
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	})
	env.ExecuteWorkflow("callOnce", name, arg)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "the activity outlived its heartbeat timeout")
	mu.Lock()
	defer mu.Unlock()
	return got
}

func TestDeployAndRemoveHeartbeatWhileTheDeployerWorks(t *testing.T) {
	a := &Activities{Deployers: map[string]Deployer{"slow": slowDeployer{took: 5 * heartbeatTimeout / 2}}}
	spec := rollout.Spec{Deploy: rollout.Deploy{Kind: "slow"}}

	got := heartbeats(t, a, "Deploy", DeployInput{Spec: spec, Role: rollout.RoleCanary, Release: rollout.Release{Version: "v2"}})
	assert.GreaterOrEqual(t, len(got), 3, "a heartbeat at once and then regularly: %v", got)
	assert.Equal(t, "deploying canary v2", got[0])

	got = heartbeats(t, a, "Remove", RoleInput{Spec: spec, Role: rollout.RoleCanary})
	assert.GreaterOrEqual(t, len(got), 3, "%v", got)
	assert.Equal(t, "removing canary", got[0])
}

func TestSmokeTestHeartbeatsItsProgress(t *testing.T) {
	a := &Activities{}
	// 45 requests of 250 ms, 4 at a time: twice the heartbeat timeout.
	spec := directSpec(serve(t, &fakeApp{delay: 250 * time.Millisecond, rssMB: 10}), serve(t, &fakeApp{delay: 250 * time.Millisecond}))
	got := heartbeats(t, a, "SmokeTest", spec)
	require.GreaterOrEqual(t, len(got), 2, "%v", got)
	assert.Equal(t, "smoke test: 0 of 45 requests done", got[0])
	assert.NotEqual(t, got[0], got[len(got)-1], "later heartbeats report progress")
}

func TestHeartbeatWhileDoesNothingOutsideAnActivity(t *testing.T) {
	stopped := make(chan struct{})
	go func() {
		heartbeatWhile(context.Background(), func() any { panic("no heartbeat outside an activity") })()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return")
	}
}
