package activities

import (
	"context"

	"github.com/canaryflow/canaryflow/rollout"
)

// Notify announces an event through the spec's notifier.
func (a *Activities) Notify(ctx context.Context, kind string, n rollout.Notification) error {
	p, err := pick("notify", a.Notifiers, kind)
	if err != nil {
		return err
	}
	return classify("notifying "+n.Event, p.Notify(ctx, n))
}
