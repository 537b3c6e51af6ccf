package control

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/canaryflow/canaryflow/rollout"
)

// ErrRefused means the rollout's validator refused an action because it does
// not apply now (nothing waits for approval, the rollout has ended, …). Nothing
// was written to the rollout's history; the error's text says why.
var ErrRefused = errors.New("refused")

// Act applies one of the rollout actions (approve, abort, promote, pause,
// resume, retry-rollback, resolve) as a Temporal Update and returns the
// rollout's answer, so a person learns at once whether it took effect. A
// refusal wraps ErrRefused with the validator's reason. Signals of the same
// names remain for webhooks and the temporal CLI; they cannot answer.
func Act(ctx context.Context, c client.Client, id, name string, payload any) (string, error) {
	if !rollout.IsAction(name) {
		return "", fmt.Errorf("action %q: must be one of %s", name, rollout.ActionNames)
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   name,
		Args:         []any{payload},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		var answer string
		if err = h.Get(ctx, &answer); err == nil {
			return answer, nil
		}
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == rollout.RefusedErrorType {
		return "", fmt.Errorf("%s %s: %w: %s", name, id, ErrRefused, app.Message())
	}
	return "", fmt.Errorf("sending %s to %s: %w", name, id, err)
}
