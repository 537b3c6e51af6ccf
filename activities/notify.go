package activities

import (
	"context"

	"github.com/canaryflow/canaryflow/rollout"
)

// Notify announces an event through the spec's notifier and returns the
// rollout's thread handle, for the workflow to pass in n.Thread next time so
// that a rollout's messages stay together (Slack); "" when the notifier has
// no threads. A failure returns "" and the workflow keeps the handle it had.
func (a *Activities) Notify(ctx context.Context, kind string, n rollout.Notification) (string, error) {
	p, err := pick("notify", a.Notifiers, kind)
	if err != nil {
		return "", err
	}
	thread, err := p.Notify(ctx, n)
	if err != nil {
		return "", classify("notifying "+n.Event, err)
	}
	return thread, nil
}
