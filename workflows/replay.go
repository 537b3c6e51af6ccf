package workflows

import (
	"fmt"
	"os"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Replay runs a CanaryRollout history on the current code and reports the
// first nondeterminism. It replays as the execution that history belongs to
// (its workflow ID and run ID from the start event), because the workflow
// checks its own ID against its spec: replayed under the SDK's placeholder
// ID, every history would look like a foreign start.
func Replay(h *historypb.History) error {
	var exec workflow.Execution
	if evs := h.GetEvents(); len(evs) > 0 {
		start := evs[0].GetWorkflowExecutionStartedEventAttributes()
		exec = workflow.Execution{ID: start.GetWorkflowId(), RunID: start.GetOriginalExecutionRunId()}
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(CanaryRollout)
	return r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{OriginalExecution: exec})
}

// ReplayFile replays a history exported as JSON (temporal workflow show
// --output json, or the fixtures in testdata/histories).
func ReplayFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening history %s: %w", path, err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		return fmt.Errorf("reading history %s: %w", path, err)
	}
	if err := Replay(h); err != nil {
		return fmt.Errorf("replaying %s: %w", path, err)
	}
	return nil
}
