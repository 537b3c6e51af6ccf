//go:build unix

package charts_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	helmrelease "helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gateway "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/canaryflow/canaryflow/internal/testenv"
)

// helmTimeout bounds each Helm operation on the test API server: simulated
// pods are Ready within seconds.
const helmTimeout = time.Minute

// helmConfig is Helm's action configuration for kubeconfig in namespace, as
// a Helm deployer builds it: release storage in Secrets of that namespace.
func helmConfig(t *testing.T, kubeconfig, namespace string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	flags.Namespace = &namespace
	cache := t.TempDir() // discovery cache, instead of ~/.kube/cache
	flags.CacheDir = &cache
	cfg := new(action.Configuration)
	logf := func(format string, args ...any) { t.Logf("helm: "+format, args...) }
	require.NoError(t, cfg.Init(flags, namespace, "secret", logf))
	return cfg
}

// TestWorkerChartRBACOnAPIServer installs the worker chart on a real API
// server and then acts as its ServiceAccount, with a minted token: Helm run
// with that token installs, tests, upgrades (canary removed) and uninstalls
// the app chart in the target namespace, and the routers' and readiness
// checks' requests succeed, for the gatewayapi router too (on the real
// HTTPRoute CRD, which also validates the chart's route). Anything else —
// Secrets of another namespace or of the worker's own, deleting a
// namespace, Helm outside the target namespace — is Forbidden.
func TestWorkerChartRBACOnAPIServer(t *testing.T) {
	cp := testenv.Kube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin := cp.Client()
	require.NoError(t, cp.InstallGatewayAPI(ctx))
	for _, ns := range []string{workerNamespace, "shop", "other"} {
		_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	// A Secret in each namespace the worker must not read.
	for _, ns := range []string{workerNamespace, "other"} {
		_, err := admin.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "private"}, StringData: map[string]string{"k": "v"},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	// The cluster admin installs the worker chart, granting it "shop" only.
	inst := action.NewInstall(helmConfig(t, cp.KubeconfigPath(), workerNamespace))
	inst.ReleaseName, inst.Namespace = workerRelease, workerNamespace
	rel, err := inst.RunWithContext(ctx, loadChart(t, workerChart), values("targetNamespaces", []any{"shop"}))
	require.NoError(t, err, "installing the worker chart\n%s", cp.LogTail())
	require.Equal(t, helmrelease.StatusDeployed, rel.Info.Status)

	saKubeconfig, err := cp.ServiceAccountKubeconfig(ctx, workerNamespace, "canaryflow-worker")
	require.NoError(t, err)
	saConfig, err := cp.ServiceAccountConfig(ctx, workerNamespace, "canaryflow-worker")
	require.NoError(t, err)
	sa, err := kubernetes.NewForConfig(saConfig)
	require.NoError(t, err)

	// The Helm deployer, as the worker: install the app chart with a canary at
	// weight 0 and wait for it to be ready.
	helm := helmConfig(t, saKubeconfig, "shop")
	app := loadChart(t, appChart)
	canary := values("canary.enabled", true, "canary.trafficWeight", 0,
		"backend.canary.image.repository", "registry.example.com/backend", "backend.canary.image.tag", "v1.1.0")
	ai := action.NewInstall(helm)
	ai.ReleaseName, ai.Namespace = release, "shop"
	ai.Wait, ai.Timeout = true, helmTimeout
	_, err = ai.RunWithContext(ctx, app, canary)
	require.NoError(t, err, "helm install of the app chart as the worker")

	// Readiness checks: watch and list Deployments, ReplicaSets and pods.
	w, err := sa.AppsV1().Deployments("shop").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=shop-canary"})
	require.NoError(t, err)
	select {
	case ev := <-w.ResultChan():
		assert.Equal(t, watch.Added, ev.Type)
	case <-ctx.Done():
		t.Fatal("no event on the canary Deployment's watch")
	}
	w.Stop()
	_, err = sa.AppsV1().ReplicaSets("shop").List(ctx, metav1.ListOptions{LabelSelector: "version=canary"})
	require.NoError(t, err)
	pods, err := sa.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=shop,version=canary"})
	require.NoError(t, err)
	assert.Len(t, pods.Items, 1)

	// Get and update a Deployment and the canary Ingress (the nginx router's
	// weight), and list the release's Secrets.
	d, err := sa.AppsV1().Deployments("shop").Get(ctx, "shop-canary", metav1.GetOptions{})
	require.NoError(t, err)
	d.Annotations["canaryflow.dev/checked"] = "true"
	_, err = sa.AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{})
	require.NoError(t, err)
	ing, err := sa.NetworkingV1().Ingresses("shop").Get(ctx, "shop-canary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "0", ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"])
	ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"] = "10"
	_, err = sa.NetworkingV1().Ingresses("shop").Update(ctx, ing, metav1.UpdateOptions{})
	require.NoError(t, err)
	secrets, err := sa.CoreV1().Secrets("shop").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=shop"})
	require.NoError(t, err)
	assert.Len(t, secrets.Items, 1, "Helm's release record")

	// `helm test`: the smoke Job runs (kwok completes its pod).
	rt := action.NewReleaseTesting(helm)
	rt.Namespace, rt.Timeout = "shop", helmTimeout
	tested, err := rt.Run(release)
	require.NoError(t, err, "helm test as the worker")
	require.Len(t, tested.Hooks, 1)
	assert.Equal(t, release+"-smoke", tested.Hooks[0].Name)
	assert.Equal(t, helmrelease.HookPhaseSucceeded, tested.Hooks[0].LastRun.Phase)

	// Promotion's last step: the canary disabled, its objects deleted.
	up := action.NewUpgrade(helm)
	up.Namespace, up.Wait, up.Timeout = "shop", true, helmTimeout
	_, err = up.RunWithContext(ctx, release, app, values("canary.enabled", false))
	require.NoError(t, err, "helm upgrade (canary off) as the worker")
	_, err = admin.AppsV1().Deployments("shop").Get(ctx, "shop-canary", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "canary Deployment left after the upgrade: %v", err)
	_, err = admin.NetworkingV1().Ingresses("shop").Get(ctx, "shop-canary", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "canary Ingress left after the upgrade: %v", err)

	checkGatewayRelease(ctx, t, saKubeconfig, sa, gateway.NewForConfigOrDie(saConfig))

	// Outside its grant, everything is Forbidden.
	forbidden := map[string]error{}
	_, forbidden["list Secrets in another namespace"] = sa.CoreV1().Secrets("other").List(ctx, metav1.ListOptions{})
	_, forbidden["get a Secret in another namespace"] = sa.CoreV1().Secrets("other").Get(ctx, "private", metav1.GetOptions{})
	_, forbidden["list Secrets in its own namespace"] = sa.CoreV1().Secrets(workerNamespace).List(ctx, metav1.ListOptions{})
	_, forbidden["list Secrets cluster-wide"] = sa.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	_, forbidden["list Deployments in another namespace"] = sa.AppsV1().Deployments("other").List(ctx, metav1.ListOptions{})
	forbidden["delete a namespace"] = sa.CoreV1().Namespaces().Delete(ctx, "shop", metav1.DeleteOptions{})
	_, forbidden["create a ConfigMap in the target namespace"] = sa.CoreV1().ConfigMaps("shop").Create(ctx,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	forbidden["delete pods in the target namespace"] = sa.CoreV1().Pods("shop").DeleteCollection(ctx,
		metav1.DeleteOptions{}, metav1.ListOptions{})
	for what, err := range forbidden {
		assert.True(t, apierrors.IsForbidden(err), "%s: want Forbidden, got %v", what, err)
	}

	// Helm with the worker's token, installing into a namespace it was not granted.
	other := action.NewInstall(helmConfig(t, saKubeconfig, "other"))
	other.ReleaseName, other.Namespace = release, "other"
	_, err = other.RunWithContext(ctx, app, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "forbidden", "helm install outside the target namespaces")

	un := action.NewUninstall(helm)
	un.Wait, un.Timeout = true, helmTimeout
	_, err = un.Run(release)
	require.NoError(t, err, "helm uninstall as the worker")
	left, err := admin.CoreV1().Secrets("shop").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	require.NoError(t, err)
	assert.Empty(t, left.Items, "release records left after uninstall")
	deps, err := admin.AppsV1().Deployments("shop").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, deps.Items, fmt.Sprintf("Deployments left after uninstall: %d", len(deps.Items)))
}

// checkGatewayRelease installs the app chart with router gatewayapi as the
// worker (the API server validates the HTTPRoute against its CRD), then
// moves the default rule's weights as the gatewayapi router does, and
// uninstalls.
func checkGatewayRelease(ctx context.Context, t *testing.T, saKubeconfig string, sa kubernetes.Interface, gw gateway.Interface) {
	t.Helper()
	helm := helmConfig(t, saKubeconfig, "shop")
	in := action.NewInstall(helm)
	in.ReleaseName, in.Namespace = "web", "shop"
	_, err := in.RunWithContext(ctx, loadChart(t, appChart), values("router", "gatewayapi",
		"gateway.name", "public", "gateway.namespace", "gateways", "ingress.host", "web.example.com",
		"canary.enabled", true, "canary.trafficWeight", 0,
		"backend.canary.image.repository", "registry.example.com/backend", "backend.canary.image.tag", "v1.1.0"))
	require.NoError(t, err, "helm install of the app chart (gatewayapi) as the worker")

	routes := gw.GatewayV1().HTTPRoutes("shop")
	rt, err := routes.Get(ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, rt.Spec.Rules, 4)
	def := &rt.Spec.Rules[3]
	// The chart gives the default rule no matches; the CRD's defaulting
	// stores the one match that means the same (PathPrefix /).
	require.Equal(t, []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
		Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To("/"),
	}}}, def.Matches)
	require.Len(t, def.BackendRefs, 2)
	require.Equal(t, gatewayv1.ObjectName("web-stable"), def.BackendRefs[0].Name)
	def.BackendRefs[0].Weight, def.BackendRefs[1].Weight = ptr.To[int32](90), ptr.To[int32](10)
	_, err = routes.Update(ctx, rt, metav1.UpdateOptions{FieldManager: "canaryflow"})
	require.NoError(t, err, "updating the HTTPRoute's weights as the worker")
	_, err = gw.GatewayV1().HTTPRoutes("other").List(ctx, metav1.ListOptions{})
	assert.True(t, apierrors.IsForbidden(err), "list HTTPRoutes in another namespace: want Forbidden, got %v", err)

	un := action.NewUninstall(helm)
	un.Wait, un.Timeout = true, helmTimeout
	_, err = un.Run("web")
	require.NoError(t, err, "helm uninstall (gatewayapi) as the worker")
	_, err = sa.AppsV1().Deployments("shop").Get(ctx, "web-canary", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "web-canary left after uninstall: %v", err)
}
