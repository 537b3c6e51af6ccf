package integration

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/internal/kube"
	"github.com/canaryflow/canaryflow/rollout"
)

// crashOnce wraps the Helm deployer: armed for an app, the first deploy of
// its canary does the upgrade, then leaves the release as a worker killed
// between Helm's "pending" record and its final one leaves it (revision
// pending-install/-upgrade), and fails as a lost worker's attempt does.
// Temporal's retry must then converge.
type crashOnce struct {
	activities.Deployer
	cp    *kube.ControlPlane
	app   atomic.Value
	fired atomic.Bool
}

func (c *crashOnce) arm(app string) { c.app.Store(app) }

func (c *crashOnce) Deploy(ctx context.Context, spec rollout.Spec, role rollout.Role, rel rollout.Release) error {
	if app, _ := c.app.Load().(string); app != spec.App || role != rollout.RoleCanary || c.fired.Load() {
		return c.Deployer.Deploy(ctx, spec, role, rel)
	}
	c.fired.Store(true)
	if err := c.Deployer.Deploy(ctx, spec, role, rel); err != nil {
		return err
	}
	if err := c.leavePending(spec); err != nil {
		return fmt.Errorf("simulating the crash: %w", err)
	}
	return errors.New("worker lost mid-upgrade (simulated)")
}

// leavePending rewrites the latest revision's status to pending, as Helm's
// storage holds it while an operation is in flight.
func (c *crashOnce) leavePending(spec rollout.Spec) error {
	flags := genericclioptions.NewConfigFlags(false)
	path := c.cp.KubeconfigPath()
	flags.KubeConfig, flags.Namespace = &path, &spec.Namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, spec.Namespace, "secret", func(string, ...any) {}); err != nil {
		return err
	}
	last, err := cfg.Releases.Last(spec.ReleaseName())
	if err != nil {
		return err
	}
	last.Info.Status = release.StatusPendingUpgrade
	if last.Version == 1 {
		last.Info.Status = release.StatusPendingInstall
	}
	return cfg.Releases.Update(last)
}
