package activities

import (
	"context"

	"github.com/canaryflow/canaryflow/rollout"
)

// Preflight checks, before anything is touched, that this worker has every
// provider the spec names and that the router and metrics source answer.
// Provider errors are redacted against every URL of the spec, whatever the
// provider did, since they end up in history and the rollout's status.
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
		return classify("preflight: reading the router's weight", rollout.RedactError(err, specURLs(spec)...))
	}
	m, err := pick("metrics", a.Metrics, spec.Metrics.Kind)
	if err != nil {
		return err
	}
	return classify("preflight", rollout.RedactError(m.Check(ctx, spec), specURLs(spec)...))
}

// specURLs are the URLs a spec names, whose secrets no message may carry.
func specURLs(spec rollout.Spec) []string {
	urls := []string{spec.Smoke.BaseURL, spec.Smoke.CanaryURL, spec.Smoke.StableURL}
	if spec.Traffic.Local != nil {
		urls = append(urls, spec.Traffic.Local.AdminURL)
	}
	if spec.Metrics.Prometheus != nil {
		urls = append(urls, spec.Metrics.Prometheus.Address)
	}
	return urls
}
