package devstack_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/internal/devstack"
)

// TestTemporalRestartKeepsWorkflowsInItsDBFile restarts a dev server with a
// database file both ways (SIGTERM, then SIGKILL): each time it comes back on
// the same address, a client dialled before the restart keeps working, and a
// workflow started before it is still running and takes a signal.
func TestTemporalRestartKeepsWorkflowsInItsDBFile(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{DBFile: filepath.Join(t.TempDir(), "temporal.db")})
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stopping temporal: %v", err)
		}
	})
	c, err := client.DialContext(ctx, client.Options{HostPort: srv.Address(), Namespace: srv.Namespace()})
	require.NoError(t, err)
	defer c.Close()
	// No worker polls this queue: the workflow just stays running, which is
	// all the server must remember.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "kept", TaskQueue: "nobody-polls"}, "Anything")
	require.NoError(t, err)

	for _, crash := range []bool{false, true} {
		addr := srv.Address()
		require.NoError(t, srv.Restart(ctx, crash), "crash=%v; server log:\n%s", crash, srv.LogTail())
		require.Equal(t, addr, srv.Address(), "a restart keeps the address clients know")
		require.Eventually(t, func() bool {
			return c.SignalWorkflow(ctx, "kept", run.GetRunID(), "poke", crash) == nil
		}, time.Minute, 200*time.Millisecond, "the client dialled before the restart reaches the restarted server (crash=%v)", crash)
		d, err := c.DescribeWorkflowExecution(ctx, "kept", run.GetRunID())
		require.NoError(t, err)
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, d.GetWorkflowExecutionInfo().GetStatus(),
			"the workflow started before the restart (crash=%v) is still there", crash)
	}
}
