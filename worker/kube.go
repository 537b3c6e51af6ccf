package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/activities/deploy/helm"
	"github.com/canaryflow/canaryflow/activities/kubeconfig"
	"github.com/canaryflow/canaryflow/activities/traffic/gatewayapi"
	"github.com/canaryflow/canaryflow/activities/traffic/nginx"
	"github.com/canaryflow/canaryflow/rollout"
)

// kubeConfig is what the Kubernetes kinds (deploy helm, traffic nginx and
// gatewayapi) need: a cluster connection and where charts are read from.
type kubeConfig struct {
	kubeconfig string
	chartRoot  string
	disabled   bool
}

func (k *kubeConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig for the helm, nginx and gatewayapi kinds (default: KUBECONFIG, ~/.kube/config, then the in-cluster ServiceAccount); a spec's kubeContext picks a context")
	fs.StringVar(&k.chartRoot, "chart-root", "", "directory specs' deploy.helm.chart paths are read from (and confined to); empty: any path on the worker")
	fs.BoolVar(&k.disabled, "no-kube", false, "do not serve the Kubernetes kinds (helm, nginx, gatewayapi)")
}

// add registers the Kubernetes kinds. The cluster is reached lazily, per
// spec context: a worker with no cluster still starts, and a rollout that
// needs one is refused in preflight with the reason.
func (k *kubeConfig) add(a *activities.Activities, logger *slog.Logger) error {
	if k.disabled {
		return nil
	}
	loader := &kubeconfig.Loader{Kubeconfig: k.kubeconfig}
	a.Routers["nginx"] = nginx.New(loader.Config)
	a.Routers["gatewayapi"] = gatewayapi.New(loader.Config)
	d, err := helm.New(helm.Config{
		RESTConfig: loader.Config,
		Weight:     routerWeight(a.Routers),
		ChartRoot:  k.chartRoot,
		Logger:     logger,
	})
	if err != nil {
		return fmt.Errorf("helm deployer: %w", err)
	}
	a.Deployers["helm"] = d
	return nil
}

// routerWeight reads the weight through the spec's own router, so a Helm
// upgrade renders what the router serves and never moves traffic itself.
func routerWeight(routers map[string]activities.TrafficRouter) func(context.Context, rollout.Spec) (int, error) {
	return func(ctx context.Context, spec rollout.Spec) (int, error) {
		r, ok := routers[spec.Traffic.Kind]
		if !ok {
			return 0, fmt.Errorf("this worker has no traffic provider of kind %q: %w", spec.Traffic.Kind, rollout.ErrPermanent)
		}
		return r.Weight(ctx, spec)
	}
}
