package activities

import (
	"context"

	"github.com/canaryflow/canaryflow/rollout"
)

// Preflight checks, before anything is touched, that this worker has every
// provider the spec names and that the router and metrics source answer.
func (a *Activities) Preflight(ctx context.Context, spec rollout.Spec) error {
	if _, err := pick("deploy", a.Deployers, spec.Deploy.Kind); err != nil {
		return err
	}
	if _, err := pick("notify", a.Notifiers, spec.Notify.Kind); err != nil {
		return err
	}
	r, err := pick("traffic", a.Routers, spec.Traffic.Kind)
	if err != nil {
		return err
	}
	if _, err := r.Weight(ctx, spec); err != nil {
		return classify("preflight: reading the router's weight", err)
	}
	m, err := pick("metrics", a.Metrics, spec.Metrics.Kind)
	if err != nil {
		return err
	}
	return classify("preflight", m.Check(ctx, spec))
}
