//go:build unix

package nginx

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
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/canaryflow/canaryflow/activities/kubeconfig"
	"github.com/canaryflow/canaryflow/internal/kube"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
)

// TestRouterOnAPIServer runs every case against one real API server (a
// control plane takes seconds to start); each case has its own namespace.
// The API server is stopped last, since the other cases need it running.
func TestRouterOnAPIServer(t *testing.T) {
	cp := testenv.Kube(t)
	loader := &kubeconfig.Loader{Kubeconfig: cp.KubeconfigPath()}
	admin := cp.Client()
	env := &env{cp: cp, admin: admin, router: New(loader.Config)}

	t.Run("weights are set and read back", env.weights)
	t.Run("canary annotation is ensured", env.canaryAnnotation)
	t.Run("a conflicting write is retried, not overwritten", env.conflict)
	t.Run("conflicts beyond the retry budget are retryable", env.conflictsExhausted)
	t.Run("concurrent writers lose nothing", env.concurrentWriters)
	t.Run("absent canary Ingress", env.absent)
	t.Run("malformed and scaled annotations", env.annotations)
	t.Run("forbidden is permanent", env.forbidden)
	t.Run("the spec's kube context is used", env.kubeContexts)
	t.Run("a stopped API server is retryable", env.stoppedServer)
}

type env struct {
	cp     *kube.ControlPlane
	admin  kubernetes.Interface
	router *Router
	n      atomic.Int32
}

// namespace creates a fresh namespace and returns a spec for app "shop" in it.
func (e *env) namespace(t *testing.T) rollout.Spec {
	t.Helper()
	ns := fmt.Sprintf("nginx-%d", e.n.Add(1))
	_, err := e.admin.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return rollout.Spec{App: "shop", Namespace: ns, Traffic: rollout.Traffic{Kind: "nginx"}}
}

// canaryIngress is the canary Ingress as the app chart renders it.
func canaryIngress(spec rollout.Spec) *networkingv1.Ingress {
	class := "nginx"
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{
			Name:      spec.IngressName(),
			Namespace: spec.Namespace,
			Labels:    map[string]string{"app": "shop", "app.kubernetes.io/managed-by": "Helm"},
			Annotations: map[string]string{
				AnnotationCanary: "true",
				AnnotationWeight: "0",
				"nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
				"nginx.ingress.kubernetes.io/canary-by-cookie": "canary",
				"meta.helm.sh/release-name":                    spec.ReleaseName(),
			},
		},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			Rules: []networkingv1.IngressRule{{
				Host: "shop.example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/",
						PathType: &prefix,
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: spec.RoleObject(rollout.RoleCanary),
							Port: networkingv1.ServiceBackendPort{Number: 80},
						}},
					}},
				}},
			}},
		},
	}
}

func (e *env) create(t *testing.T, ing *networkingv1.Ingress) *networkingv1.Ingress {
	t.Helper()
	got, err := e.admin.NetworkingV1().Ingresses(ing.Namespace).Create(t.Context(), ing, metav1.CreateOptions{})
	require.NoError(t, err)
	return got
}

func (e *env) get(t *testing.T, spec rollout.Spec) *networkingv1.Ingress {
	t.Helper()
	got, err := e.admin.NetworkingV1().Ingresses(spec.Namespace).Get(t.Context(), spec.IngressName(), metav1.GetOptions{})
	require.NoError(t, err)
	return got
}

// otherWrite is another writer's edit: it sets an annotation of its own.
func (e *env) otherWrite(ctx context.Context, spec rollout.Spec, key, value string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ing, err := e.admin.NetworkingV1().Ingresses(spec.Namespace).Get(ctx, spec.IngressName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		ing.Annotations[key] = value
		_, err = e.admin.NetworkingV1().Ingresses(spec.Namespace).Update(ctx, ing, metav1.UpdateOptions{})
		return err
	})
}

func (e *env) weights(t *testing.T) {
	spec := e.namespace(t)
	before := e.create(t, canaryIngress(spec))
	for _, w := range []int{0, 10, 25, 50, 0} {
		require.NoError(t, e.router.SetWeight(t.Context(), spec, w))
		got, err := e.router.Weight(t.Context(), spec)
		require.NoError(t, err)
		assert.Equal(t, w, got)
		assert.Equal(t, strconv.Itoa(w), e.get(t, spec).Annotations[AnnotationWeight])
	}
	after := e.get(t, spec)
	assert.Equal(t, before.Spec, after.Spec, "rules and backend untouched")
	assert.Equal(t, before.Labels, after.Labels)
	assert.Equal(t, before.Annotations, after.Annotations, "every other annotation untouched, and the weight back at 0")

	// Setting the weight it already has writes nothing.
	rv := after.ResourceVersion
	require.NoError(t, e.router.SetWeight(t.Context(), spec, 0))
	assert.Equal(t, rv, e.get(t, spec).ResourceVersion)

	err := e.router.SetWeight(t.Context(), spec, 101)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.ErrorContains(t, err, "between 0 and 100")
}

func (e *env) canaryAnnotation(t *testing.T) {
	spec := e.namespace(t)
	ing := canaryIngress(spec)
	delete(ing.Annotations, AnnotationCanary)
	ing.Annotations[AnnotationWeight] = "40"
	e.create(t, ing)

	w, err := e.router.Weight(t.Context(), spec)
	require.NoError(t, err)
	assert.Equal(t, 0, w, "an Ingress that is not a canary sends the canary nothing")

	require.NoError(t, e.router.SetWeight(t.Context(), spec, 10))
	got := e.get(t, spec)
	assert.Equal(t, "true", got.Annotations[AnnotationCanary])
	assert.Equal(t, "10", got.Annotations[AnnotationWeight])
}

// The hook runs another writer between SetWeight's read and its write, so
// its first Update carries a stale resourceVersion: the API server refuses
// it, and SetWeight reads again and keeps the other writer's change.
func (e *env) conflict(t *testing.T) {
	spec := e.namespace(t)
	e.create(t, canaryIngress(spec))
	var calls int
	r := New((&kubeconfig.Loader{Kubeconfig: e.cp.KubeconfigPath()}).Config)
	r.beforeUpdate = func() {
		calls++
		if calls == 1 {
			require.NoError(t, e.otherWrite(t.Context(), spec, "example.com/other-writer", "kept"))
		}
	}
	require.NoError(t, r.SetWeight(t.Context(), spec, 25))
	assert.Equal(t, 2, calls, "the first update conflicted and was redone once")
	got := e.get(t, spec)
	assert.Equal(t, "25", got.Annotations[AnnotationWeight])
	assert.Equal(t, "kept", got.Annotations["example.com/other-writer"], "the other writer's edit survived")
}

func (e *env) conflictsExhausted(t *testing.T) {
	spec := e.namespace(t)
	e.create(t, canaryIngress(spec))
	var calls int
	r := New((&kubeconfig.Loader{Kubeconfig: e.cp.KubeconfigPath()}).Config)
	r.beforeUpdate = func() {
		calls++
		require.NoError(t, e.otherWrite(t.Context(), spec, "example.com/other-writer", strconv.Itoa(calls)))
	}
	err := r.SetWeight(t.Context(), spec, 10)
	require.Error(t, err)
	assert.True(t, apierrors.IsConflict(err), "%v", err)
	assert.NotErrorIs(t, err, rollout.ErrPermanent, "the activity retries it")
	assert.Contains(t, err.Error(), "Ingress "+spec.Namespace+"/shop-canary")
	assert.Equal(t, kubeconfig.ConflictRetry.Steps, calls)
	got := e.get(t, spec)
	assert.Equal(t, "0", got.Annotations[AnnotationWeight], "nothing written blindly")
	assert.Equal(t, strconv.Itoa(calls), got.Annotations["example.com/other-writer"])
}

// Another client (say, Helm or a person with kubectl) keeps editing the
// Ingress while weights are being set, until at least minSets weights are
// set and at least one of SetWeight's writes met a Conflict: every edit of
// either side survives.
func (e *env) concurrentWriters(t *testing.T) {
	const minSets = 30
	spec := e.namespace(t)
	e.create(t, canaryIngress(spec))
	var attempts atomic.Int32
	// Lifting client-go's default 5 QPS lets SetWeight keep pace with the
	// other writer, so their requests interleave.
	r := New(func(string) (*rest.Config, error) {
		cfg := e.cp.RESTConfig()
		cfg.QPS, cfg.Burst = 200, 400
		return cfg, nil
	})
	r.beforeUpdate = func() { attempts.Add(1) }

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	stop := make(chan struct{})
	type result struct {
		edits int
		err   error
	}
	done := make(chan result, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- result{edits: i}
				return
			default:
			}
			// Like a controller, the other writer requeues a write that
			// ran out of conflict retries.
			err := e.otherWrite(ctx, spec, fmt.Sprintf("example.com/edit-%d", i), "kept")
			for apierrors.IsConflict(err) {
				err = e.otherWrite(ctx, spec, fmt.Sprintf("example.com/edit-%d", i), "kept")
			}
			if err != nil {
				done <- result{edits: i, err: err}
				return
			}
		}
	}()
	sets, conflicts, w := 0, 0, 0
	for sets < minSets || int(attempts.Load()) == sets+conflicts {
		require.NoError(t, ctx.Err(), "no conflict in %d sets", sets)
		w = w%99 + 1
		// Each call is one activity attempt; one that ran out of conflict
		// retries is retryable, and Temporal would call again.
		for {
			err := r.SetWeight(ctx, spec, w)
			if err == nil {
				break
			}
			require.True(t, apierrors.IsConflict(err), "%v", err)
			require.NotErrorIs(t, err, rollout.ErrPermanent)
			conflicts++
		}
		sets++
	}
	close(stop)
	other := <-done
	require.NoError(t, other.err)
	got := e.get(t, spec)
	assert.Equal(t, strconv.Itoa(w), got.Annotations[AnnotationWeight], "the last weight set holds")
	for i := range other.edits {
		assert.Equal(t, "kept", got.Annotations[fmt.Sprintf("example.com/edit-%d", i)], "edit %d lost", i)
	}
	t.Logf("%d weights set in %d update attempts (%d activity attempts ran out of conflict retries) beside %d other edits",
		sets, attempts.Load(), conflicts, other.edits)
}

func (e *env) absent(t *testing.T) {
	spec := e.namespace(t)
	require.NoError(t, e.router.SetWeight(t.Context(), spec, 0), "no Ingress: weight 0 already holds")
	w, err := e.router.Weight(t.Context(), spec)
	require.NoError(t, err)
	assert.Equal(t, 0, w)

	err = e.router.SetWeight(t.Context(), spec, 10)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.ErrorContains(t, err, "canary Ingress "+spec.Namespace+"/shop-canary not found: is the canary deployed?")

	gone := spec
	gone.Namespace = "no-such-namespace"
	require.NoError(t, e.router.SetWeight(t.Context(), gone, 0))
	err = e.router.SetWeight(t.Context(), gone, 50)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.ErrorContains(t, err, "no-such-namespace/shop-canary not found")

	named := spec
	named.Traffic.Nginx = &rollout.NginxTraffic{Ingress: "storefront-canary"}
	err = e.router.SetWeight(t.Context(), named, 10)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.ErrorContains(t, err, spec.Namespace+"/storefront-canary not found", "the spec's Ingress name is used")
}

func (e *env) annotations(t *testing.T) {
	spec := e.namespace(t)
	ing := canaryIngress(spec)
	ing.Annotations[AnnotationWeight] = "ten"
	e.create(t, ing)
	_, err := e.router.Weight(t.Context(), spec)
	require.Error(t, err)
	assert.ErrorContains(t, err, AnnotationWeight)
	assert.ErrorContains(t, err, `"ten"`)
	assert.ErrorContains(t, err, "Ingress "+spec.Namespace+"/shop-canary")

	require.NoError(t, e.router.SetWeight(t.Context(), spec, 10), "a malformed weight is replaced")
	w, err := e.router.Weight(t.Context(), spec)
	require.NoError(t, err)
	assert.Equal(t, 10, w)

	// ingress-nginx reads the weight out of canary-weight-total.
	scaled := e.namespace(t)
	ing = canaryIngress(scaled)
	ing.Annotations[AnnotationWeightTotal] = "1000"
	e.create(t, ing)
	require.NoError(t, e.router.SetWeight(t.Context(), scaled, 25))
	assert.Equal(t, "250", e.get(t, scaled).Annotations[AnnotationWeight])
	w, err = e.router.Weight(t.Context(), scaled)
	require.NoError(t, err)
	assert.Equal(t, 25, w)
	assert.Equal(t, "1000", e.get(t, scaled).Annotations[AnnotationWeightTotal], "never changed")
}

// A ServiceAccount that no Role lets update Ingresses is refused: the
// activity must stop retrying and say so.
func (e *env) forbidden(t *testing.T) {
	spec := e.namespace(t)
	e.create(t, canaryIngress(spec))
	_, err := e.admin.CoreV1().ServiceAccounts(spec.Namespace).Create(t.Context(),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	cfg, err := e.cp.ServiceAccountConfig(t.Context(), spec.Namespace, "nobody")
	require.NoError(t, err)
	r := New(func(string) (*rest.Config, error) { return rest.CopyConfig(cfg), nil })

	err = r.SetWeight(t.Context(), spec, 10)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	assert.ErrorContains(t, err, "Ingress "+spec.Namespace+"/shop-canary")
	_, err = r.Weight(t.Context(), spec)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
}

// apiServerOutage is how long the API server is stopped: the 20 s,
// longer than a control plane's leader election blip.
const apiServerOutage = 20 * time.Second

// With the API server stopped (SIGSTOP: it accepts connections and never
// answers), each attempt times out with a retryable error; attempts made
// the way Temporal makes them succeed once it runs again.
func (e *env) stoppedServer(t *testing.T) {
	spec := e.namespace(t)
	e.create(t, canaryIngress(spec))
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
	time.AfterFunc(apiServerOutage, resume)

	var failures int
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		err := r.SetWeight(ctx, spec, 25)
		if err == nil {
			break
		}
		failures++
		require.NotErrorIs(t, err, rollout.ErrPermanent, "attempt %d: %v", failures, err)
		assert.ErrorContains(t, err, "Ingress "+spec.Namespace+"/shop-canary")
		require.NoError(t, ctx.Err(), "never succeeded; last error %v", err)
		if failures == 1 {
			t.Logf("first failure while stopped: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("SetWeight succeeded %s after the stop, after %d retryable failures", time.Since(stopped).Round(time.Millisecond), failures)
	assert.GreaterOrEqual(t, failures, 2, "attempts while stopped failed")
	select {
	case <-resumed:
	default:
		t.Fatal("SetWeight succeeded while the API server was stopped")
	}
	w, err := r.Weight(ctx, spec)
	require.NoError(t, err)
	assert.Equal(t, 25, w)
}
