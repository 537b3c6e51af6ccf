package control

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

// ErrNoRollout means no rollout has the ID asked for: never started, or
// started so long ago that the server no longer keeps it.
var ErrNoRollout = errors.New("no rollout")

// ErrClosed means the rollout's workflow has closed, so an action cannot
// reach it any more.
var ErrClosed = errors.New("the rollout has ended")

// ErrNoIncident means the rollout has no incident report: only a rollback writes one.
var ErrNoIncident = errors.New("no incident report")

// Explain turns the server's "not found" from a query, an update or a
// describe into what a person needs to know: that no rollout has this ID
// (wrapping ErrNoRollout, with how to start one), or that it has ended
// (wrapping ErrClosed, with how it closed). Other errors are returned as they are.
func Explain(ctx context.Context, c client.Client, id string, err error) error {
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		return err
	}
	d, derr := c.DescribeWorkflowExecution(ctx, id, "")
	if errors.As(derr, &nf) {
		return fmt.Errorf("%w with ID %s; start one with `starter start -f spec.yaml` (see `starter list` for the rollouts there are)", ErrNoRollout, id)
	}
	if derr == nil {
		if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return fmt.Errorf("%w: %s is %s (`starter status --id %s` shows how it ended)", ErrClosed, id, st, id)
		}
	}
	return err
}

// RunID returns the ID of the rollout's latest run, the one its status and
// report come from (a long rollout continues as new in fresh runs).
func RunID(ctx context.Context, c client.Client, id string) (string, error) {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return "", Explain(ctx, c, id, fmt.Errorf("describing %s: %w", id, err))
	}
	return d.GetWorkflowExecutionInfo().GetExecution().GetRunId(), nil
}

// Incident rebuilds the rollout's incident report from its status, as the
// worker wrote it and with what happened since (a resolution, later events),
// so the report can be read where the worker's incident directory cannot.
// A rollout that has not rolled back has none: the error wraps ErrNoIncident.
func Incident(ctx context.Context, c client.Client, id string) (rollout.Incident, error) {
	s, err := Status(ctx, c, id)
	if err != nil {
		return rollout.Incident{}, err
	}
	switch s.Phase {
	case rollout.PhaseRollingBack, rollout.PhaseRolledBack, rollout.PhaseRollbackFailed:
	default:
		return rollout.Incident{}, fmt.Errorf("%w for %s: it is %s, and only a rollback has one", ErrNoIncident, id, s.Phase)
	}
	run, err := RunID(ctx, c, id)
	if err != nil {
		return rollout.Incident{}, err
	}
	return rollout.Incident{RolloutID: id, RunID: run, Status: s}, nil
}

// Spec returns the spec the rollout's latest run was started with (a run
// that continued as new carries the spec on), read from the first event of
// its history: it needs no worker, and it is the plan as the workflow has it.
func Spec(ctx context.Context, c client.Client, id string) (rollout.Spec, error) {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return rollout.Spec{}, fmt.Errorf("reading the start of %s: its history is empty", id)
	}
	ev, err := it.Next()
	if err != nil {
		return rollout.Spec{}, Explain(ctx, c, id, fmt.Errorf("reading the start of %s: %w", id, err))
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil {
		return rollout.Spec{}, fmt.Errorf("reading the start of %s: its first event is %s", id, ev.GetEventType())
	}
	var in workflows.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), &in); err != nil {
		return rollout.Spec{}, fmt.Errorf("decoding the input of %s: %w", id, err)
	}
	return in.Spec.WithDefaults(), nil
}
