//go:build unix

package gatewayapi

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gateway "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/canaryflow/canaryflow/activities/kubeconfig"
	"github.com/canaryflow/canaryflow/internal/kube"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
)

// TestRouterOnAPIServer runs every case against one real API server with
// the gateway-api module's HTTPRoute CRD installed; each case has its own
// namespace. The API server is stopped last, since the others need it.
func TestRouterOnAPIServer(t *testing.T) {
	cp := testenv.Kube(t)
	installHTTPRouteCRD(t, cp.RESTConfig())
	gw, err := gateway.NewForConfig(cp.RESTConfig())
	require.NoError(t, err)
	loader := &kubeconfig.Loader{Kubeconfig: cp.KubeconfigPath()}
	e := &env{cp: cp, gw: gw, router: New(loader.Config)}

	t.Run("weights are set and read back", e.weights)
	t.Run("canary not rendered", e.noCanaryRef)
	t.Run("route absent", e.absent)
	t.Run("no default rule", e.noDefaultRule)
	t.Run("weights as the route has them", e.readWeights)
	t.Run("a conflicting write is retried, not overwritten", e.conflict)
	t.Run("conflicts beyond the retry budget are retryable", e.conflictsExhausted)
	t.Run("forbidden is permanent", e.forbidden)
	t.Run("a stopped API server is retryable", e.stoppedServer)
}

type env struct {
	cp     *kube.ControlPlane
	gw     gateway.Interface
	router *Router
	n      atomic.Int32
}

// namespace creates a fresh namespace and returns a spec for app "shop" in it.
func (e *env) namespace(t *testing.T) rollout.Spec {
	t.Helper()
	ns := fmt.Sprintf("gw-%d", e.n.Add(1))
	_, err := e.cp.Client().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return rollout.Spec{App: "shop", Namespace: ns, Traffic: rollout.Traffic{Kind: "gatewayapi"}}
}

func backendRef(name string, weight *int32) gatewayv1.HTTPBackendRef {
	port := gatewayv1.PortNumber(80)
	return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: &port},
		Weight:                 weight,
	}}
}

func ptr[T any](v T) *T { return &v }

// headerRule pins requests with header: value to service.
func headerRule(header, value, service string) gatewayv1.HTTPRouteRule {
	return gatewayv1.HTTPRouteRule{
		Matches:     []gatewayv1.HTTPRouteMatch{{Headers: []gatewayv1.HTTPHeaderMatch{{Name: gatewayv1.HTTPHeaderName(header), Value: value}}}},
		BackendRefs: []gatewayv1.HTTPBackendRef{backendRef(service, nil)},
	}
}

// route is the HTTPRoute as the app chart renders it with the canary
// enabled at weight 0: X-Canary and the canary cookie pin requests, and the
// default rule (written without matches) splits the rest.
func route(spec rollout.Spec) *gatewayv1.HTTPRoute {
	stable, canary := spec.RoleObject(rollout.RoleStable), spec.RoleObject(rollout.RoleCanary)
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{
			Name:        spec.RouteName(),
			Namespace:   spec.Namespace,
			Labels:      map[string]string{"app": "shop", "app.kubernetes.io/managed-by": "Helm"},
			Annotations: map[string]string{"meta.helm.sh/release-name": spec.ReleaseName()},
		},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{
				Name: "public", Namespace: ptr(gatewayv1.Namespace("infra")),
			}}},
			Hostnames: []gatewayv1.Hostname{"shop.example.com"},
			Rules: []gatewayv1.HTTPRouteRule{
				headerRule("X-Canary", "always", canary),
				headerRule("X-Canary", "never", stable),
				{
					Matches: []gatewayv1.HTTPRouteMatch{{Headers: []gatewayv1.HTTPHeaderMatch{{
						Type: ptr(gatewayv1.HeaderMatchRegularExpression), Name: "Cookie", Value: "(^|; )canary=always(;|$)",
					}}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{backendRef(canary, nil)},
				},
				{BackendRefs: []gatewayv1.HTTPBackendRef{backendRef(stable, ptr[int32](100)), backendRef(canary, ptr[int32](0))}},
			},
		},
	}
}

func (e *env) create(t *testing.T, r *gatewayv1.HTTPRoute) *gatewayv1.HTTPRoute {
	t.Helper()
	got, err := e.gw.GatewayV1().HTTPRoutes(r.Namespace).Create(t.Context(), r, metav1.CreateOptions{})
	require.NoError(t, err)
	return got
}

func (e *env) get(t *testing.T, spec rollout.Spec) *gatewayv1.HTTPRoute {
	t.Helper()
	got, err := e.gw.GatewayV1().HTTPRoutes(spec.Namespace).Get(t.Context(), spec.RouteName(), metav1.GetOptions{})
	require.NoError(t, err)
	return got
}

// defaultWeights are the default rule's (last rule's) backend weights.
func defaultWeights(r *gatewayv1.HTTPRoute) []int32 {
	var ws []int32
	for _, b := range r.Spec.Rules[len(r.Spec.Rules)-1].BackendRefs {
		ws = append(ws, weightOf(&b.BackendRef))
	}
	return ws
}

func (e *env) weights(t *testing.T) {
	spec := e.namespace(t)
	before := e.create(t, route(spec))
	require.Len(t, before.Spec.Rules[3].Matches, 1, "the API server gives a rule without matches its default, PathPrefix /")
	for _, w := range []int{0, 10, 25, 50, 0} {
		require.NoError(t, e.router.SetWeight(t.Context(), spec, w))
		got, err := e.router.Weight(t.Context(), spec)
		require.NoError(t, err)
		assert.Equal(t, w, got)
		assert.Equal(t, []int32{int32(100 - w), int32(w)}, defaultWeights(e.get(t, spec)))
	}
	after := e.get(t, spec)
	assert.Equal(t, before.Spec, after.Spec, "back at 0 the route is as it was: other rules, parents, hostnames untouched")
	assert.Equal(t, before.Labels, after.Labels)
	assert.Equal(t, before.Annotations, after.Annotations)

	require.NoError(t, e.router.SetWeight(t.Context(), spec, 0))
	assert.Equal(t, after.ResourceVersion, e.get(t, spec).ResourceVersion, "the weight it has already is not written")

	// A named route and a Helm release name are what the spec says.
	named := spec
	named.Deploy.Helm = &rollout.HelmDeploy{Release: "storefront"}
	named.Traffic.GatewayAPI = &rollout.GatewayAPITraffic{Route: "storefront-public"}
	e.create(t, route(named))
	require.NoError(t, e.router.SetWeight(t.Context(), named, 25))
	assert.Equal(t, []int32{75, 25}, defaultWeights(e.get(t, named)))
	assert.Equal(t, []int32{100, 0}, defaultWeights(e.get(t, spec)), "the other route is untouched")

	err := e.router.SetWeight(t.Context(), spec, -1)
	require.ErrorIs(t, err, rollout.ErrPermanent)
}

// With the canary disabled the chart renders the default rule with the
// stable backend only.
func (e *env) noCanaryRef(t *testing.T) {
	spec := e.namespace(t)
	r := route(spec)
	r.Spec.Rules = []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{backendRef("shop-stable", nil)}}}
	created := e.create(t, r)

	require.NoError(t, e.router.SetWeight(t.Context(), spec, 0))
	assert.Equal(t, created.ResourceVersion, e.get(t, spec).ResourceVersion, "nothing written")
	w, err := e.router.Weight(t.Context(), spec)
	require.NoError(t, err)
	assert.Equal(t, 0, w)

	err = e.router.SetWeight(t.Context(), spec, 10)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.ErrorContains(t, err, "HTTPRoute "+spec.Namespace+"/shop")
	assert.ErrorContains(t, err, "no backendRef to Service shop-canary: is the canary deployed?")
	assert.Equal(t, created.Spec, e.get(t, spec).Spec)

	// A canary Service of the same name in another namespace is not ours.
	r = route(spec)
	r.Name = "cross"
	r.Spec.Rules[3].BackendRefs[1].Namespace = ptr(gatewayv1.Namespace("elsewhere"))
	e.create(t, r)
	cross := spec
	cross.Traffic.GatewayAPI = &rollout.GatewayAPITraffic{Route: "cross"}
	require.ErrorIs(t, e.router.SetWeight(t.Context(), cross, 10), rollout.ErrPermanent)
}

func (e *env) absent(t *testing.T) {
	spec := e.namespace(t)
	require.NoError(t, e.router.SetWeight(t.Context(), spec, 0), "no route: weight 0 already holds")
	w, err := e.router.Weight(t.Context(), spec)
	require.NoError(t, err)
	assert.Equal(t, 0, w)
	err = e.router.SetWeight(t.Context(), spec, 10)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.ErrorContains(t, err, "HTTPRoute "+spec.Namespace+"/shop: HTTPRoute not found")

	gone := spec
	gone.Namespace = "no-such-namespace"
	require.NoError(t, e.router.SetWeight(t.Context(), gone, 0))
	require.ErrorIs(t, e.router.SetWeight(t.Context(), gone, 50), rollout.ErrPermanent)
}

// A route whose rules all match on headers has no default rule to weigh:
// the chart did not render it, and the router does not guess.
func (e *env) noDefaultRule(t *testing.T) {
	spec := e.namespace(t)
	r := route(spec)
	r.Spec.Rules = r.Spec.Rules[:3]
	e.create(t, r)
	for _, w := range []int{0, 10} {
		err := e.router.SetWeight(t.Context(), spec, w)
		require.ErrorIs(t, err, rollout.ErrPermanent, "weight %d", w)
		assert.ErrorContains(t, err, "has no default rule")
	}
	_, err := e.router.Weight(t.Context(), spec)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.ErrorContains(t, err, "HTTPRoute "+spec.Namespace+"/shop")
}

// Weight reads whatever scale the route uses; SetWeight writes percents.
func (e *env) readWeights(t *testing.T) {
	cases := []struct {
		name           string
		stable, canary *int32
		want           int
	}{
		{"unset weights default to 1 each", nil, nil, 50},
		{"another scale", ptr[int32](900), ptr[int32](100), 10},
		{"both zero", ptr[int32](0), ptr[int32](0), 0},
		{"all canary", ptr[int32](0), ptr[int32](7), 100},
		{"rounded", ptr[int32](2), ptr[int32](1), 33},
	}
	spec := e.namespace(t)
	for i, c := range cases {
		s := spec
		s.Traffic.GatewayAPI = &rollout.GatewayAPITraffic{Route: "route-" + strconv.Itoa(i)}
		r := route(s)
		// The default rule first, written with the catch-all match the API
		// server would have defaulted, still counts as the default.
		r.Spec.Rules = append([]gatewayv1.HTTPRouteRule{{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr("/")}}},
			BackendRefs: []gatewayv1.HTTPBackendRef{
				backendRef("shop-stable", c.stable), backendRef("shop-canary", c.canary),
			},
		}}, r.Spec.Rules[:3]...)
		e.create(t, r)
		w, err := e.router.Weight(t.Context(), s)
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, w, c.name)
		require.NoError(t, e.router.SetWeight(t.Context(), s, 40), c.name)
		got := e.get(t, s)
		assert.Equal(t, ptr[int32](60), got.Spec.Rules[0].BackendRefs[0].Weight, c.name)
		assert.Equal(t, ptr[int32](40), got.Spec.Rules[0].BackendRefs[1].Weight, c.name)
	}
}

// otherWrite is another writer's edit: it changes the "never" header rule's
// value, a rule the router must leave as it finds it.
func (e *env) otherWrite(ctx context.Context, spec rollout.Spec, value string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		r, err := e.gw.GatewayV1().HTTPRoutes(spec.Namespace).Get(ctx, spec.RouteName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		r.Spec.Rules[1].Matches[0].Headers[0].Value = value
		_, err = e.gw.GatewayV1().HTTPRoutes(spec.Namespace).Update(ctx, r, metav1.UpdateOptions{})
		return err
	})
}

func (e *env) conflict(t *testing.T) {
	spec := e.namespace(t)
	e.create(t, route(spec))
	calls := 0
	r := New((&kubeconfig.Loader{Kubeconfig: e.cp.KubeconfigPath()}).Config)
	r.beforeUpdate = func() {
		calls++
		if calls == 1 {
			require.NoError(t, e.otherWrite(t.Context(), spec, "nope"))
		}
	}
	require.NoError(t, r.SetWeight(t.Context(), spec, 25))
	assert.Equal(t, 2, calls, "the first update conflicted and was redone once")
	got := e.get(t, spec)
	assert.Equal(t, []int32{75, 25}, defaultWeights(got))
	assert.Equal(t, "nope", got.Spec.Rules[1].Matches[0].Headers[0].Value, "the other writer's edit survived")
}

func (e *env) conflictsExhausted(t *testing.T) {
	spec := e.namespace(t)
	e.create(t, route(spec))
	calls := 0
	r := New((&kubeconfig.Loader{Kubeconfig: e.cp.KubeconfigPath()}).Config)
	r.beforeUpdate = func() {
		calls++
		require.NoError(t, e.otherWrite(t.Context(), spec, "never-"+strconv.Itoa(calls)))
	}
	err := r.SetWeight(t.Context(), spec, 10)
	require.Error(t, err)
	assert.True(t, apierrors.IsConflict(err), "%v", err)
	assert.NotErrorIs(t, err, rollout.ErrPermanent, "the activity retries it")
	assert.ErrorContains(t, err, "HTTPRoute "+spec.Namespace+"/shop")
	assert.Equal(t, kubeconfig.ConflictRetry.Steps, calls)
	got := e.get(t, spec)
	assert.Equal(t, []int32{100, 0}, defaultWeights(got), "nothing written blindly")
	assert.Equal(t, "never-"+strconv.Itoa(calls), got.Spec.Rules[1].Matches[0].Headers[0].Value)

	require.NoError(t, New((&kubeconfig.Loader{Kubeconfig: e.cp.KubeconfigPath()}).Config).SetWeight(t.Context(), spec, 10),
		"the activity's next attempt succeeds")
}

// A ServiceAccount no Role lets touch HTTPRoutes is refused for good.
func (e *env) forbidden(t *testing.T) {
	spec := e.namespace(t)
	e.create(t, route(spec))
	_, err := e.cp.Client().CoreV1().ServiceAccounts(spec.Namespace).Create(t.Context(),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	cfg, err := e.cp.ServiceAccountConfig(t.Context(), spec.Namespace, "nobody")
	require.NoError(t, err)
	r := New(func(string) (*rest.Config, error) { return rest.CopyConfig(cfg), nil })
	err = r.SetWeight(t.Context(), spec, 10)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	assert.ErrorContains(t, err, "HTTPRoute "+spec.Namespace+"/shop")
	_, err = r.Weight(t.Context(), spec)
	require.ErrorIs(t, err, rollout.ErrPermanent)
}

// With the API server stopped (SIGSTOP: it accepts connections and never
// answers), each attempt times out with a retryable error; attempts made
// the way Temporal makes them succeed once it runs again.
func (e *env) stoppedServer(t *testing.T) {
	spec := e.namespace(t)
	e.create(t, route(spec))
	loader := &kubeconfig.Loader{Kubeconfig: e.cp.KubeconfigPath(), Timeout: time.Second}
	r := New(loader.Config)
	require.NoError(t, r.SetWeight(t.Context(), spec, 10), "connected before the stop")

	pid := e.cp.Pids()["kube-apiserver"]
	require.NotZero(t, pid)
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	resumed := make(chan struct{})
	var once sync.Once
	resume := func() {
		once.Do(func() {
			close(resumed)
			assert.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
		})
	}
	t.Cleanup(resume)
	stopped := time.Now()
	time.AfterFunc(5*time.Second, resume)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	failures := 0
	for {
		err := r.SetWeight(ctx, spec, 50)
		if err == nil {
			break
		}
		failures++
		require.NotErrorIs(t, err, rollout.ErrPermanent, "attempt %d: %v", failures, err)
		assert.ErrorContains(t, err, "HTTPRoute "+spec.Namespace+"/shop")
		require.NoError(t, ctx.Err(), "never succeeded; last error %v", err)
		if failures == 1 {
			t.Logf("first failure while stopped: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("SetWeight succeeded %s after the stop, after %d retryable failures", time.Since(stopped).Round(time.Millisecond), failures)
	assert.GreaterOrEqual(t, failures, 2)
	select {
	case <-resumed:
	default:
		t.Fatal("SetWeight succeeded while the API server was stopped")
	}
	w, err := r.Weight(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, 50, w)
}
