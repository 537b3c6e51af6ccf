package helm

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
)

// appChart is the project's app chart, the one this deployer is made for.
func appChart(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "deploy", "charts", "app"))
	require.NoError(t, err)
	return p
}

func helmSpec(t *testing.T, router string) rollout.Spec {
	return rollout.Spec{
		Version: rollout.FormatV1, App: "shop", Namespace: "prod",
		Stable:  rollout.Release{Version: "v1", Image: "registry.local/shop:v1"},
		Canary:  rollout.Release{Version: "v2", Image: "registry.local/shop:v2"},
		Deploy:  rollout.Deploy{Kind: "helm", Helm: &rollout.HelmDeploy{Chart: appChart(t)}},
		Traffic: rollout.Traffic{Kind: router},
	}
}

type fixture struct {
	d      *Deployer
	cs     kubernetes.Interface
	weight atomic.Int32
}

func newFixture(t *testing.T) *fixture {
	cp := testenv.Kube(t)
	f := &fixture{cs: cp.Client()}
	ctx := context.Background()
	_, err := f.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	d, err := New(Config{
		RESTConfig: func(string) (*rest.Config, error) { return cp.RESTConfig(), nil },
		Weight:     func(context.Context, rollout.Spec) (int, error) { return int(f.weight.Load()), nil },
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	f.d = d
	return f
}

func (f *fixture) image(t *testing.T, name string) string {
	t.Helper()
	dep, err := f.cs.AppsV1().Deployments("prod").Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return dep.Spec.Template.Spec.Containers[0].Image
}

func (f *fixture) waitReady(t *testing.T, spec rollout.Spec, role rollout.Role) {
	t.Helper()
	var detail string
	require.Eventually(t, func() bool {
		ok, d, err := f.d.Ready(context.Background(), spec, role)
		require.NoError(t, err)
		detail = d
		return ok
	}, 60*time.Second, 100*time.Millisecond, "waiting for %s: %s", role, detail)
}

func TestCanaryLifecycleOnARealAPIServer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	spec := helmSpec(t, "nginx")

	require.NoError(t, f.d.Deploy(ctx, spec, rollout.RoleCanary, spec.Canary))
	assert.Equal(t, "registry.local/shop:v1", f.image(t, "shop-stable"), "the first install takes stable from the spec")
	assert.Equal(t, "registry.local/shop:v2", f.image(t, "shop-canary"))
	canary, err := f.cs.AppsV1().Deployments("prod").Get(ctx, "shop-canary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "canary", canary.Spec.Template.Labels["version"])
	assert.Equal(t, "shop", canary.Spec.Template.Labels["app"])
	assert.Equal(t, int32(1), *canary.Spec.Replicas)
	f.waitReady(t, spec, rollout.RoleCanary)

	// Deploying again (a retry after a crash) converges on the same objects.
	require.NoError(t, f.d.Deploy(ctx, spec, rollout.RoleCanary, spec.Canary))
	f.waitReady(t, spec, rollout.RoleCanary)

	// Promotion: stable moves to the canary's image.
	require.NoError(t, f.d.Deploy(ctx, spec, rollout.RoleStable, spec.Canary))
	assert.Equal(t, "registry.local/shop:v2", f.image(t, "shop-stable"))
	f.waitReady(t, spec, rollout.RoleStable)

	require.NoError(t, f.d.Remove(ctx, spec, rollout.RoleCanary))
	_, err = f.cs.AppsV1().Deployments("prod").Get(ctx, "shop-canary", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the canary Deployment is gone: %v", err)
	_, err = f.cs.CoreV1().Services("prod").Get(ctx, "shop-canary", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the canary Service is gone: %v", err)
	require.NoError(t, f.d.Remove(ctx, spec, rollout.RoleCanary), "removing twice succeeds")
}

func TestAnUpgradeLeftPendingIsRecovered(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	spec := helmSpec(t, "none")
	require.NoError(t, f.d.Deploy(ctx, spec, rollout.RoleCanary, spec.Canary))

	// A worker died mid-upgrade: the latest revision is left pending-upgrade,
	// which Helm treats as a lock held by an operation in progress.
	cfg, _, err := f.d.action(spec)
	require.NoError(t, err)
	last, err := cfg.Releases.Last("shop")
	require.NoError(t, err)
	last.Info.Status = release.StatusPendingUpgrade
	require.NoError(t, cfg.Releases.Update(last))

	require.NoError(t, f.d.Deploy(ctx, spec, rollout.RoleStable, spec.Canary), "a pending release is recovered, not a permanent failure")
	last, err = cfg.Releases.Last("shop")
	require.NoError(t, err)
	assert.Equal(t, release.StatusDeployed, last.Info.Status)
	assert.Equal(t, "registry.local/shop:v2", f.image(t, "shop-stable"))
}

func TestTheUpgradeRendersTheWeightTheRouterServes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	spec := helmSpec(t, "nginx")
	require.NoError(t, f.d.Deploy(ctx, spec, rollout.RoleCanary, spec.Canary))
	f.weight.Store(25) // the router moved traffic since
	require.NoError(t, f.d.Deploy(ctx, spec, rollout.RoleStable, spec.Canary))
	cfg, _, err := f.d.action(spec)
	require.NoError(t, err)
	last, err := cfg.Releases.Last("shop")
	require.NoError(t, err)
	assert.EqualValues(t, 25, lookup(last.Config, "canary.trafficWeight"), "Helm never moves traffic by itself")
}

func TestBadInputIsPermanent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	spec := helmSpec(t, "nginx")
	digest := rollout.Release{Version: "v3", Image: "registry.local/shop@sha256:abc"}
	err := f.d.Deploy(ctx, spec, rollout.RoleCanary, digest)
	require.ErrorIs(t, err, rollout.ErrPermanent)

	spec.Deploy.Helm.Chart = filepath.Join(t.TempDir(), "no-such-chart")
	require.ErrorIs(t, f.d.Deploy(ctx, spec, rollout.RoleCanary, spec.Canary), rollout.ErrPermanent)

	rooted, err := New(Config{ChartRoot: t.TempDir(), RESTConfig: f.d.cfg.RESTConfig, Weight: f.d.cfg.Weight})
	require.NoError(t, err)
	spec.Deploy.Helm.Chart = "../../etc"
	err = rooted.Deploy(ctx, spec, rollout.RoleCanary, spec.Canary)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.Contains(t, err.Error(), "inside the worker's chart root")
}

func TestImageReferences(t *testing.T) {
	for img, want := range map[string][2]string{
		"registry.local/shop:v2":      {"registry.local/shop", "v2"},
		"registry.local:5000/shop":    {"registry.local:5000/shop", "v9"},
		"registry.local:5000/shop:v3": {"registry.local:5000/shop", "v3"},
		"shop":                        {"shop", "v9"},
	} {
		repo, tag, err := imageRef(rollout.Release{Version: "v9", Image: img})
		require.NoError(t, err, img)
		assert.Equal(t, want, [2]string{repo, tag}, img)
	}
}
