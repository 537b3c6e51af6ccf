package workflows

import (
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// control is one of a rollout's controls (approve, abort, promote, pause,
// resume, retry-rollback, resolve), reachable two ways with one meaning:
//
//   - as a signal, for webhooks and `temporal workflow signal`: fire and
//     forget; one that does not apply now is recorded as ignored, with why;
//   - as an Update, for the starter CLI and Slack: the caller gets the
//     answer, and the validator refuses what does not apply now before
//     anything is written to history.
type control struct {
	name     string
	register func(ctx workflow.Context, sel workflow.Selector) error
}

// action is what a control does with its payload P. refuse says why it does
// not apply now ("" when it does) and must not change the run: Update
// validators call it. apply does it and returns the answer a caller sees.
type action[P any] struct {
	name  string
	shape string // the payload's shape, for the message when it does not decode
	clean func(P) P
	actor func(P) string
	// lenient, when set, turns an undecodable signal payload into one that
	// still applies: the brake (abort) must work whatever it carries.
	lenient func(err error) P
	refuse  func(ctx workflow.Context, p P) string
	apply   func(ctx workflow.Context, p P) string
}

// controlOf registers a as a signal on sel and as an Update handler.
func controlOf[P any](r *run, a action[P]) control {
	return control{name: a.name, register: func(ctx workflow.Context, sel workflow.Selector) error {
		sel.AddReceive(workflow.GetSignalChannel(ctx, a.name), func(c workflow.ReceiveChannel, _ bool) {
			// ReceiveAsync into a RawValue never decodes and never blocks:
			// a payload that does not fit is refused below, with its reason,
			// instead of panicking the workflow task on every retry.
			var raw converter.RawValue
			c.ReceiveAsync(&raw)
			var p P
			if err := decode(raw, &p); err != nil {
				if a.lenient == nil {
					r.ignored(ctx, a.name, "payload is not "+a.shape+": "+err.Error(), "")
					return
				}
				p = a.lenient(err)
			}
			p = a.clean(p)
			if why := a.refuse(ctx, p); why != "" {
				r.ignored(ctx, a.name, why, a.actor(p))
				return
			}
			a.apply(ctx, p)
		})
		return workflow.SetUpdateHandlerWithOptions(ctx, a.name,
			func(ctx workflow.Context, p P) (string, error) {
				p = a.clean(p)
				// The validator ran in this same workflow task, so this only
				// guards against a future change that lets state move between.
				if why := a.refuse(ctx, p); why != "" {
					return "", refused(why)
				}
				return a.apply(ctx, p), nil
			},
			workflow.UpdateHandlerOptions{
				Validator: func(ctx workflow.Context, p P) error {
					if why := a.refuse(ctx, a.clean(p)); why != "" {
						return refused(why)
					}
					return nil
				},
				Description: a.name + " " + a.shape,
			})
	}}
}

// refused is a validator's answer: a non-retryable ApplicationError of type
// rollout.RefusedErrorType whose message says why, so a caller tells "does
// not apply now" from "could not reach the rollout".
func refused(why string) error {
	return temporal.NewNonRetryableApplicationError(rollout.Clip(why, rollout.MaxMessageBytes), rollout.RefusedErrorType, nil)
}
