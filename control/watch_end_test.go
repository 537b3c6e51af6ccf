package control

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
)

const watchQueue = "watch-test"

// stuckRollout answers the status query like a rollout at 25 % and waits:
// for "promote" (it then ends Promoted), "fail" (its workflow fails), or
// cancellation (it ends without compensating). With hops > 0 it first
// continues as new that many times.
func stuckRollout(ctx workflow.Context, hops int) error {
	s := rollout.Status{App: "shop", Namespace: "it", Phase: rollout.PhaseProgressing, Weight: 25, EventsLogged: 1,
		Events: []rollout.Event{{At: workflow.Now(ctx), Kind: "weight", Message: "canary weight 25%"}}}
	if err := workflow.SetQueryHandler(ctx, rollout.QueryStatus, func() (rollout.Status, error) { return s, nil }); err != nil {
		return err
	}
	if hops > 0 {
		if err := workflow.Sleep(ctx, 300*time.Millisecond); err != nil {
			return err
		}
		return workflow.NewContinueAsNewError(ctx, "stuckRollout", hops-1)
	}
	var how string
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, "end"), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &how) })
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case how == "fail":
		return errors.New("boom")
	}
	s.Phase = rollout.PhasePromoted
	return nil
}

func TestWatchReturnsWhenTheWorkflowEndsWithoutAFinalPhase(t *testing.T) {
	srv := testenv.Temporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Dial(ctx, srv.Address(), srv.Namespace())
	require.NoError(t, err)
	t.Cleanup(c.Close)
	w := worker.New(c, watchQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(stuckRollout, workflow.RegisterOptions{Name: "stuckRollout"})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	start := func(t *testing.T, id string, hops int, timeout time.Duration) {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: watchQueue, WorkflowExecutionTimeout: timeout}, "stuckRollout", hops)
		require.NoError(t, err)
	}
	// watch runs Watch until it returns, failing the test if that takes long.
	watch := func(t *testing.T, id string, end func()) (rollout.Status, string, error) {
		var out bytes.Buffer
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		type res struct {
			s   rollout.Status
			err error
		}
		done := make(chan res, 1)
		go func() {
			s, err := Watch(wctx, c, id, 100*time.Millisecond, &out)
			done <- res{s, err}
		}()
		time.Sleep(500 * time.Millisecond) // Watch is polling a running rollout
		end()
		r := <-done
		require.NotErrorIs(t, r.err, context.DeadlineExceeded, "Watch hung")
		return r.s, out.String(), r.err
	}

	for name, tc := range map[string]struct {
		hops    int
		timeout time.Duration
		end     func(id string) error
		closed  string
	}{
		"terminated": {end: func(id string) error { return c.TerminateWorkflow(ctx, id, "", "operator") }, closed: "Terminated"},
		"cancelled":  {end: func(id string) error { return c.CancelWorkflow(ctx, id, "") }, closed: "Canceled"},
		"failed":     {end: func(id string) error { return c.SignalWorkflow(ctx, id, "", "end", "fail") }, closed: "Failed"},
		"timed out":  {timeout: 2 * time.Second, end: func(string) error { return nil }, closed: "TimedOut"},
		"continued as new, then terminated": {hops: 2, end: func(id string) error {
			time.Sleep(time.Second) // both hops are done
			return c.TerminateWorkflow(ctx, id, "", "operator")
		}, closed: "Terminated"},
	} {
		t.Run(name, func(t *testing.T) {
			id := "watch-" + name
			start(t, id, tc.hops, tc.timeout)
			s, out, err := watch(t, id, func() { require.NoError(t, tc.end(id)) })
			require.ErrorIs(t, err, ErrEnded)
			assert.Contains(t, err.Error(), tc.closed)
			assert.Contains(t, err.Error(), "in phase Progressing at weight 25%")
			assert.Equal(t, rollout.PhaseProgressing, s.Phase)
			assert.Contains(t, out, "canary weight 25%", "what happened before is printed once")
		})
	}

	t.Run("a final phase still ends the watch without an error", func(t *testing.T) {
		start(t, "watch-promoted", 0, 0)
		s, _, err := watch(t, "watch-promoted", func() { require.NoError(t, c.SignalWorkflow(ctx, "watch-promoted", "", "end", "promote")) })
		require.NoError(t, err)
		assert.Equal(t, rollout.PhasePromoted, s.Phase)
	})
}
