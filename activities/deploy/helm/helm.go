// Package helm is the Deployer for Kubernetes: it installs or upgrades the
// app chart's release through Helm's action package (no helm binary), with
// the canary enabled, disabled or promoted by values, and checks readiness of
// the stable and canary Deployments through client-go.
//
// Traffic is not the deployer's business: every upgrade renders the weight
// the router serves at that moment, so Helm never moves traffic by itself.
package helm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/canaryflow/canaryflow/rollout"
)

// Config says how the deployer reaches clusters and charts.
type Config struct {
	// RESTConfig resolves a spec's kube context ("" is the current context
	// or the in-cluster config) to a REST config.
	RESTConfig func(kubeContext string) (*rest.Config, error)
	// Weight reads the canary weight the spec's router serves now.
	Weight func(ctx context.Context, spec rollout.Spec) (int, error)
	// ChartRoot, when set, is the directory spec charts are read from: a
	// spec names a chart relative to it and cannot reach outside it.
	ChartRoot string
	// MaxHistory bounds the revisions Helm keeps per release (default 10).
	MaxHistory int
	Logger     *slog.Logger
}

// Deployer installs, upgrades and checks the app chart's release.
type Deployer struct {
	cfg Config
	// mu serialises operations on one release: Helm's pending state is a
	// lock that a second concurrent upgrade would trip over.
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns a Deployer; RESTConfig and Weight are required.
func New(cfg Config) (*Deployer, error) {
	if cfg.RESTConfig == nil || cfg.Weight == nil {
		return nil, errors.New("helm deployer: RESTConfig and Weight are required")
	}
	if cfg.MaxHistory == 0 {
		cfg.MaxHistory = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Deployer{cfg: cfg, locks: map[string]*sync.Mutex{}}, nil
}

func (d *Deployer) lock(spec rollout.Spec) func() {
	key := spec.KubeContext + "/" + spec.Namespace + "/" + spec.ReleaseName()
	d.mu.Lock()
	l, ok := d.locks[key]
	if !ok {
		l = &sync.Mutex{}
		d.locks[key] = l
	}
	d.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// action builds Helm's configuration for the spec's cluster and namespace;
// releases are stored as Secrets there, as the helm CLI stores them.
func (d *Deployer) action(spec rollout.Spec) (*action.Configuration, *rest.Config, error) {
	rc, err := d.cfg.RESTConfig(spec.KubeContext)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the cluster config (context %q): %w: %w", spec.KubeContext, err, rollout.ErrPermanent)
	}
	cfg := new(action.Configuration)
	log := func(format string, v ...any) {
		d.cfg.Logger.Debug(fmt.Sprintf(format, v...), "release", spec.ReleaseName())
	}
	if err := cfg.Init(&restGetter{config: rc, namespace: spec.Namespace}, spec.Namespace, "secret", log); err != nil {
		return nil, nil, fmt.Errorf("initialising Helm for namespace %s: %w", spec.Namespace, err)
	}
	return cfg, rc, nil
}

// chart loads the spec's chart from the worker's disk.
func (d *Deployer) chart(spec rollout.Spec) (*chart.Chart, error) {
	if spec.Deploy.Helm == nil || spec.Deploy.Helm.Chart == "" {
		return nil, fmt.Errorf("deploy.helm.chart is not set: %w", rollout.ErrPermanent)
	}
	path := spec.Deploy.Helm.Chart
	if d.cfg.ChartRoot != "" {
		if !filepath.IsLocal(path) {
			return nil, fmt.Errorf("chart %q must be a path inside the worker's chart root: %w", path, rollout.ErrPermanent)
		}
		path = filepath.Join(d.cfg.ChartRoot, path)
	}
	c, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w: %w", spec.Deploy.Helm.Chart, err, rollout.ErrPermanent)
	}
	return c, nil
}

// Deploy makes role run rel: the canary by enabling it with rel's image,
// stable (promotion, or its restoration) by setting the stable image. It
// installs the release when there is none. Re-running it after a crash at
// any point converges: an upgrade left pending is recovered first.
func (d *Deployer) Deploy(ctx context.Context, spec rollout.Spec, role rollout.Role, rel rollout.Release) error {
	defer d.lock(spec)()
	cfg, _, err := d.action(spec)
	if err != nil {
		return err
	}
	chrt, err := d.chart(spec)
	if err != nil {
		return err
	}
	last, err := d.recover(ctx, cfg, spec)
	if err != nil {
		return err
	}
	vals := map[string]any{}
	if last != nil {
		vals = copyValues(last.Config)
	}
	merge(vals, spec.Deploy.Helm.Values)
	if last == nil || get(vals, "backend.image.tag") == "" {
		if err := setImage(vals, rollout.RoleStable, spec.Stable); err != nil {
			return fmt.Errorf("installing %s needs the stable image: %w", spec.ReleaseName(), err)
		}
	}
	if err := setImage(vals, role, rel); err != nil {
		return err
	}
	if role == rollout.RoleCanary {
		set(vals, "canary.enabled", true)
	}
	return d.apply(ctx, cfg, chrt, spec, last, vals, fmt.Sprintf("canaryflow: %s runs %s", role, rel.Version))
}

// Remove disables the canary (its Deployment, Service and routing objects
// go); a release that does not exist has nothing to remove.
func (d *Deployer) Remove(ctx context.Context, spec rollout.Spec, role rollout.Role) error {
	if role != rollout.RoleCanary {
		return fmt.Errorf("removing %s: only the canary is removed by a rollout: %w", role, rollout.ErrPermanent)
	}
	defer d.lock(spec)()
	cfg, _, err := d.action(spec)
	if err != nil {
		return err
	}
	last, err := d.recover(ctx, cfg, spec)
	if err != nil || last == nil {
		return err
	}
	vals := copyValues(last.Config)
	if enabled, _ := lookup(vals, "canary.enabled").(bool); !enabled {
		return nil
	}
	chrt, err := d.chart(spec)
	if err != nil {
		return err
	}
	set(vals, "canary.enabled", false)
	return d.apply(ctx, cfg, chrt, spec, last, vals, "canaryflow: canary removed")
}

// apply installs or upgrades with vals plus what the spec decides (router,
// header, cookie) and the weight the router serves now.
func (d *Deployer) apply(ctx context.Context, cfg *action.Configuration, chrt *chart.Chart, spec rollout.Spec,
	last *release.Release, vals map[string]any, why string) error {
	w, err := d.cfg.Weight(ctx, spec)
	if err != nil {
		return fmt.Errorf("reading the weight the router serves before upgrading %s: %w", spec.ReleaseName(), err)
	}
	if enabled, _ := lookup(vals, "canary.enabled").(bool); !enabled {
		w = 0
	}
	set(vals, "canary.trafficWeight", w)
	set(vals, "app", spec.App)
	set(vals, "router", routerOf(spec.Traffic.Kind))
	if spec.Traffic.Header != "" {
		set(vals, "canary.header", spec.Traffic.Header)
	}
	if spec.Traffic.Cookie != "" {
		set(vals, "canary.cookie", spec.Traffic.Cookie)
	}
	name := spec.ReleaseName()
	if last == nil {
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace, in.Description = name, spec.Namespace, why
		if _, err := in.RunWithContext(ctx, chrt, vals); err != nil {
			return fmt.Errorf("helm install %s in %s: %w", name, spec.Namespace, classify(err))
		}
		return nil
	}
	up := action.NewUpgrade(cfg)
	up.Namespace, up.MaxHistory, up.Description = spec.Namespace, d.cfg.MaxHistory, why
	if _, err := up.RunWithContext(ctx, name, chrt, vals); err != nil {
		return fmt.Errorf("helm upgrade %s in %s: %w", name, spec.Namespace, classify(err))
	}
	return nil
}

// recover returns the release's latest revision, or nil when there is none.
// A revision left pending-* by a worker that died mid-operation would lock
// the release for good; it is marked failed (a pending first install is
// uninstalled), so the operation can run again.
func (d *Deployer) recover(ctx context.Context, cfg *action.Configuration, spec rollout.Spec) (*release.Release, error) {
	name := spec.ReleaseName()
	last, err := cfg.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading release %s history: %w", name, err)
	}
	if !last.Info.Status.IsPending() {
		return last, nil
	}
	d.cfg.Logger.Warn("recovering a release left pending by an interrupted operation", "release", name, "revision", last.Version, "status", last.Info.Status)
	if last.Version == 1 && last.Info.Status == release.StatusPendingInstall {
		un := action.NewUninstall(cfg)
		if _, err := un.Run(name); err != nil {
			return nil, fmt.Errorf("removing the interrupted first install of %s: %w", name, err)
		}
		return nil, nil
	}
	was := last.Info.Status
	last.Info.Status = release.StatusFailed
	last.Info.Description = "canaryflow: interrupted while " + string(was) + "; marked failed to recover"
	if err := cfg.Releases.Update(last); err != nil {
		return nil, fmt.Errorf("marking the interrupted revision %d of %s failed: %w", last.Version, name, err)
	}
	return last, nil
}

// Ready reports whether role's Deployment runs the image the release asks
// for on all its replicas; detail says what is still missing.
func (d *Deployer) Ready(ctx context.Context, spec rollout.Spec, role rollout.Role) (bool, string, error) {
	cfg, rc, err := d.action(spec)
	if err != nil {
		return false, "", err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return false, "", fmt.Errorf("building a Kubernetes client: %w", err)
	}
	last, err := cfg.Releases.Last(spec.ReleaseName())
	if err != nil {
		return false, "", fmt.Errorf("reading release %s: %w", spec.ReleaseName(), err)
	}
	repoKey, tagKey := imageKeys(role)
	want := get(last.Config, repoKey) + ":" + get(last.Config, tagKey)
	return deploymentReady(ctx, cs, spec.Namespace, spec.RoleObject(role), want)
}

func setImage(vals map[string]any, role rollout.Role, rel rollout.Release) error {
	repo, tag, err := imageRef(rel)
	if err != nil {
		return err
	}
	repoKey, tagKey := imageKeys(role)
	set(vals, repoKey, repo)
	set(vals, tagKey, tag)
	return nil
}

// routerOf maps a traffic kind to the app chart's router value.
func routerOf(kind string) string {
	switch kind {
	case "nginx", "gatewayapi":
		return kind
	}
	return "none"
}
