package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/activities/deploy/helm"
	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	notifymem "github.com/canaryflow/canaryflow/activities/notify/memory"
	"github.com/canaryflow/canaryflow/activities/traffic/gatewayapi"
	"github.com/canaryflow/canaryflow/activities/traffic/nginx"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/internal/kube"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

// kubeEngine is a real Temporal dev server and worker whose deployer is Helm
// and whose routers are nginx and gatewayapi, all on a real kube-apiserver
// (kwok makes the pods Ready); metrics are scripted, since simulated pods
// serve no traffic.
type kubeEngine struct {
	cp      *kube.ControlPlane
	crash   *crashOnce
	c       client.Client
	cs      kubernetes.Interface
	gw      gwclient.Interface
	metrics *metricsmem.Metrics
}

func startKubeEngine(t *testing.T) *kubeEngine {
	cp := testenv.Kube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, cp.InstallGatewayAPI(ctx))
	srv := testenv.Temporal(t)
	c, err := control.Dial(ctx, srv.Address(), srv.Namespace())
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cfg := func(string) (*rest.Config, error) { return cp.RESTConfig(), nil }
	gw, err := gwclient.NewForConfig(cp.RESTConfig())
	require.NoError(t, err)
	e := &kubeEngine{cp: cp, c: c, cs: cp.Client(), gw: gw, metrics: metricsmem.New(nil)}
	routers := map[string]activities.TrafficRouter{"nginx": nginx.New(cfg), "gatewayapi": gatewayapi.New(cfg)}
	d, err := helm.New(helm.Config{
		RESTConfig: cfg,
		Weight: func(ctx context.Context, spec rollout.Spec) (int, error) {
			return routers[spec.Traffic.Kind].Weight(ctx, spec)
		},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	e.crash = &crashOnce{Deployer: d, cp: cp}
	acts := &activities.Activities{
		Deployers: map[string]activities.Deployer{"helm": e.crash}, Routers: routers,
		Metrics:     map[string]activities.MetricsSource{"memory": e.metrics},
		Notifiers:   map[string]activities.Notifier{"log": &notifymem.Notifier{}},
		IncidentDir: t.TempDir(), PollInterval: 100 * time.Millisecond,
	}
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.CanaryRollout)
	w.RegisterActivity(acts)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return e
}

func kubeSpec(t *testing.T, app, router string) rollout.Spec {
	chart, err := filepath.Abs(filepath.Join("..", "deploy", "charts", "app"))
	require.NoError(t, err)
	s := rollout.Spec{
		Version: rollout.FormatV1, App: app, Namespace: app,
		Stable: rollout.Release{Version: "v1", Image: "registry.local/" + app + ":v1"},
		Canary: rollout.Release{Version: "v2", Image: "registry.local/" + app + ":v2"},
		Deploy: rollout.Deploy{Kind: "helm", Helm: &rollout.HelmDeploy{Chart: chart, Values: map[string]any{
			"ingress": map[string]any{"host": app + ".example.com"},
		}}},
		Traffic: rollout.Traffic{Kind: router},
		Metrics: rollout.Metrics{Kind: "memory"}, Smoke: rollout.Smoke{Skip: true},
		Steps:    []rollout.Step{rollout.Weight(10), rollout.Hold(2 * time.Second), rollout.Weight(50), rollout.Hold(2 * time.Second)},
		Analysis: rollout.Analysis{Interval: rollout.Duration(time.Second)},
	}
	if router == "gatewayapi" {
		s.Deploy.Helm.Values["gateway"] = map[string]any{"name": "public"}
	}
	return s
}

// observed is what a watch saw change, in order: weights, canary objects
// appearing and disappearing, stable images.
type observed struct {
	mu    sync.Mutex
	lines []string
}

func (o *observed) add(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n := len(o.lines); n == 0 || o.lines[n-1] != line {
		o.lines = append(o.lines, line)
	}
}

func (o *observed) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.lines)
}

// index is the position of the first line equal to want, or -1.
func (o *observed) index(want string) int { return slices.Index(o.all(), want) }

// watchObjects records, in the order the API server reports them, every
// change a user would watch: canary weight, canary Deployment, stable image.
func (e *kubeEngine) watchObjects(ctx context.Context, t *testing.T, ns string) *observed {
	o := &observed{}
	deps, err := e.cs.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	ings, err := e.cs.NetworkingV1().Ingresses(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	routes, err := e.gw.GatewayV1().HTTPRoutes(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	go func() {
		for {
			var ev watch.Event
			var ok bool
			select {
			case <-ctx.Done():
				return
			case ev, ok = <-deps.ResultChan():
			case ev, ok = <-ings.ResultChan():
			case ev, ok = <-routes.ResultChan():
			}
			if !ok {
				return
			}
			switch obj := ev.Object.(type) {
			case *appsv1.Deployment:
				role := obj.Spec.Template.Labels["version"]
				if ev.Type == watch.Deleted {
					o.add("deployment " + role + " deleted")
				} else {
					o.add(fmt.Sprintf("deployment %s %s", role, obj.Spec.Template.Spec.Containers[0].Image))
				}
			case *networkingv1.Ingress:
				if w, ok := obj.Annotations["nginx.ingress.kubernetes.io/canary-weight"]; ok && ev.Type != watch.Deleted {
					o.add("weight " + w)
				}
				if ev.Type == watch.Deleted && obj.Annotations["nginx.ingress.kubernetes.io/canary"] == "true" {
					o.add("canary ingress deleted")
				}
			case *gwv1.HTTPRoute:
				o.add("weight " + routeWeight(obj))
			}
		}
	}()
	return o
}

// routeWeight is the canary's share of the HTTPRoute's default rule, as a
// user reading the object would work it out.
func routeWeight(r *gwv1.HTTPRoute) string {
	for _, rule := range r.Spec.Rules {
		// The default rule pins nothing; the API server gives it a PathPrefix "/" match.
		if slices.ContainsFunc(rule.Matches, func(m gwv1.HTTPRouteMatch) bool { return len(m.Headers) > 0 }) {
			continue
		}
		var canary, total int32
		for _, b := range rule.BackendRefs {
			w := int32(1)
			if b.Weight != nil {
				w = *b.Weight
			}
			total += w
			if string(b.Name) == r.Name+"-canary" {
				canary = w
			}
		}
		if total == 0 {
			return "0"
		}
		return fmt.Sprint(canary * 100 / total)
	}
	return "0"
}

func (e *kubeEngine) namespace(t *testing.T, ns string) {
	_, err := e.cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// noCanaryObjects checks nothing of the canary is left in ns.
func (e *kubeEngine) noCanaryObjects(ctx context.Context, t *testing.T, spec rollout.Spec) {
	_, err := e.cs.AppsV1().Deployments(spec.Namespace).Get(ctx, spec.RoleObject(rollout.RoleCanary), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "canary Deployment left: %v", err)
	_, err = e.cs.CoreV1().Services(spec.Namespace).Get(ctx, spec.RoleObject(rollout.RoleCanary), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "canary Service left: %v", err)
	_, err = e.cs.NetworkingV1().Ingresses(spec.Namespace).Get(ctx, spec.IngressName(), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "canary Ingress left: %v", err)
}

func (e *kubeEngine) stableImage(ctx context.Context, t *testing.T, spec rollout.Spec) string {
	dep, err := e.cs.AppsV1().Deployments(spec.Namespace).Get(ctx, spec.RoleObject(rollout.RoleStable), metav1.GetOptions{})
	require.NoError(t, err)
	return dep.Spec.Template.Spec.Containers[0].Image
}

func TestHelmRolloutsOnARealAPIServer(t *testing.T) {
	e := startKubeEngine(t)
	e.metrics.ByApp["bad-nginx"] = func(n int) (rollout.Sample, error) {
		if n > 3 {
			return metricsmem.With(func(c *rollout.VersionFigures) { c.ErrorRate = 0.2 }), nil
		}
		return metricsmem.Healthy(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	for _, router := range []string{"nginx", "gatewayapi"} {
		t.Run("promoted with "+router, func(t *testing.T) {
			spec := kubeSpec(t, "good-"+router, router)
			e.namespace(t, spec.Namespace)
			seen := e.watchObjects(ctx, t, spec.Namespace)
			run, err := control.Start(ctx, e.c, spec, "it")
			require.NoError(t, err)

			// At 10 % a user sees the canary Deployment (1 replica, its image,
			// labelled version=canary) and the weight on the router object.
			s := waitStatus(ctx, t, e.c, run.GetID(), func(s rollout.Status) bool { return s.Weight == 10 })
			assert.Equal(t, 10, s.Weight)
			dep, err := e.cs.AppsV1().Deployments(spec.Namespace).Get(ctx, spec.RoleObject(rollout.RoleCanary), metav1.GetOptions{})
			require.NoError(t, err)
			assert.Equal(t, int32(1), *dep.Spec.Replicas)
			assert.Equal(t, "canary", dep.Spec.Template.Labels["version"])
			assert.Equal(t, spec.App, dep.Spec.Template.Labels["app"])
			assert.Equal(t, spec.Canary.Image, dep.Spec.Template.Spec.Containers[0].Image)
			assert.Contains(t, seen.all(), "weight 10")

			res, err := control.Wait(ctx, e.c, run.GetID())
			require.NoError(t, err)
			require.Equal(t, rollout.PhasePromoted, res.Phase, res.Reason)
			assert.Equal(t, spec.Canary.Image, e.stableImage(ctx, t, spec), "stable runs the new image")
			e.noCanaryObjects(ctx, t, spec)
			lines := seen.all()
			t.Logf("observed: %q", lines)
			for _, w := range []string{"weight 10", "weight 50"} {
				assert.Contains(t, lines, w)
			}
			assert.Less(t, seen.index("weight 10"), seen.index("weight 50"))
			assert.Less(t, seen.index("deployment stable "+spec.Canary.Image), seen.index("deployment canary deleted"),
				"stable is promoted before the canary goes")
		})
	}

	t.Run("rolled back with nginx: weight 0 before the canary goes, stable untouched", func(t *testing.T) {
		spec := kubeSpec(t, "bad-nginx", "nginx")
		e.namespace(t, spec.Namespace)
		seen := e.watchObjects(ctx, t, spec.Namespace)
		run, err := control.Start(ctx, e.c, spec, "it")
		require.NoError(t, err)
		res, err := control.Wait(ctx, e.c, run.GetID())
		require.NoError(t, err)
		require.Equal(t, rollout.PhaseRolledBack, res.Phase)
		assert.Contains(t, res.Reason, "error rate")
		assert.Equal(t, spec.Stable.Image, e.stableImage(ctx, t, spec), "stable untouched")
		e.noCanaryObjects(ctx, t, spec)
		lines := seen.all()
		t.Logf("observed: %q", lines)
		assert.NotContains(t, lines, "deployment stable "+spec.Canary.Image, "stable never ran the canary's image")
		zero, gone := slices.Index(lines, "weight 0"), seen.index("deployment canary deleted")
		last0 := -1
		for i, l := range lines {
			if l == "weight 0" && i < gone {
				last0 = i
			}
		}
		require.GreaterOrEqual(t, zero, 0)
		require.Greater(t, gone, 0)
		assert.Greater(t, last0, seen.index("weight 10"), "weight went back to 0 after traffic moved")
		assert.Less(t, last0, gone, "weight 0 before the canary was removed")
	})

	t.Run("a worker killed mid-upgrade: the retry converges", func(t *testing.T) {
		spec := kubeSpec(t, "crashy", "nginx")
		e.namespace(t, spec.Namespace)
		e.crash.arm(spec.App)
		run, err := control.Start(ctx, e.c, spec, "it")
		require.NoError(t, err)
		res, err := control.Wait(ctx, e.c, run.GetID())
		require.NoError(t, err)
		require.Equal(t, rollout.PhasePromoted, res.Phase, res.Reason)
		assert.True(t, e.crash.fired.Load(), "the crash happened")
		assert.Equal(t, spec.Canary.Image, e.stableImage(ctx, t, spec))
		e.noCanaryObjects(ctx, t, spec)
	})

	t.Run("a Helm failure rolls back with Helm's error in the status", func(t *testing.T) {
		spec := kubeSpec(t, "broken", "nginx")
		spec.Deploy.Helm.Values["canary"] = map[string]any{"replicas": -1} // the chart's schema refuses it
		e.namespace(t, spec.Namespace)
		run, err := control.Start(ctx, e.c, spec, "it")
		require.NoError(t, err)
		res, err := control.Wait(ctx, e.c, run.GetID())
		require.NoError(t, err)
		assert.Equal(t, rollout.PhaseRolledBack, res.Phase)
		assert.Contains(t, res.Reason, "helm install broken")
		assert.Contains(t, res.Reason, "replicas")
		s, err := control.Status(ctx, e.c, run.GetID())
		require.NoError(t, err)
		assert.Zero(t, s.Weight)
	})
}

// waitStatus polls the status query until ok holds; a timeout reports the
// status seen last, with its events, and the activities the rollout waits
// on (attempts, last failure), so a stall says where it stalled.
func waitStatus(ctx context.Context, t *testing.T, c client.Client, id string, ok func(rollout.Status) bool) rollout.Status {
	t.Helper()
	var last rollout.Status
	if assert.EventuallyWithT(t, func(ct *assert.CollectT) {
		s, err := control.Status(ctx, c, id)
		if !assert.NoError(ct, err, "status query") {
			return
		}
		last = s
		assert.True(ct, ok(s), "last status: phase %s step %d weight %d events %q", s.Phase, s.Step, s.Weight, s.Events)
	}, 2*time.Minute, 50*time.Millisecond) {
		return last
	}
	if d, err := c.DescribeWorkflowExecution(ctx, id, ""); err != nil {
		t.Logf("describing %s: %v", id, err)
	} else {
		for _, p := range d.GetPendingActivities() {
			t.Logf("pending activity %s: state %s, attempt %d, last failure %q, last heartbeat %s",
				p.GetActivityType().GetName(), p.GetState(), p.GetAttempt(), p.GetLastFailure().GetMessage(), p.GetLastHeartbeatTime().AsTime())
		}
	}
	t.FailNow()
	return last
}
