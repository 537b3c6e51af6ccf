package k8s

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"

	"github.com/canaryflow/canaryflow/rollout"
)

// watcher prints what a user would watch in the rollout's namespace (the
// Deployments, and the HTTPRoute's weights or the canary Ingress's
// annotation) as the API server reports each change, and mirrors the
// object's canary weight onto the local router.
//
// The mirror stands in for the gateway's data plane: on a real cluster a
// Gateway implementation or ingress-nginx reads these objects and splits
// requests between the pods. Here the pods are simulated and serve nothing,
// so the local router splits requests between the local stand-in processes,
// and following the object is what makes the weight the rollout set on
// Kubernetes the share of traffic the canary really gets.
type watcher struct {
	ctx       context.Context
	p         *printer
	spec      rollout.Spec
	setRouter func(ctx context.Context, weight int) error

	mu      sync.Mutex
	deps    map[string]deploymentView
	shown   string // the traffic object's last printed state
	weight  int    // the canary weight on the traffic object
	weights []int  // every weight it had, in order, without repeats
	changed chan struct{}
}

// watch starts informers on spec's namespace and returns once they have
// listed what is there; they stop when ctx ends.
func watch(ctx context.Context, cs kubernetes.Interface, gw gwclient.Interface, spec rollout.Spec, p *printer,
	setRouter func(context.Context, int) error) (*watcher, error) {
	w := &watcher{ctx: ctx, p: p, spec: spec, setRouter: setRouter, deps: map[string]deploymentView{}, changed: make(chan struct{})}
	kf := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(spec.Namespace))
	var synced []cache.InformerSynced
	add := func(inf cache.SharedIndexInformer, h cache.ResourceEventHandlerFuncs) error {
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("watching %s: %w", spec.Namespace, err)
		}
		synced = append(synced, inf.HasSynced)
		return nil
	}
	if err := add(kf.Apps().V1().Deployments().Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    w.deployment,
		UpdateFunc: func(_, obj any) { w.deployment(obj) },
		DeleteFunc: w.deploymentGone,
	}); err != nil {
		return nil, err
	}
	var gf gwinformers.SharedInformerFactory
	switch spec.Traffic.Kind {
	case "gatewayapi":
		gf = gwinformers.NewSharedInformerFactoryWithOptions(gw, 0, gwinformers.WithNamespace(spec.Namespace))
		if err := add(gf.Gateway().V1().HTTPRoutes().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    w.route,
			UpdateFunc: func(_, obj any) { w.route(obj) },
			DeleteFunc: w.routeGone,
		}); err != nil {
			return nil, err
		}
	case "nginx":
		if err := add(kf.Networking().V1().Ingresses().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    w.ingress,
			UpdateFunc: func(_, obj any) { w.ingress(obj) },
			DeleteFunc: w.ingressGone,
		}); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("watching traffic: router %q is not gatewayapi or nginx", spec.Traffic.Kind)
	}
	kf.Start(ctx.Done())
	if gf != nil {
		gf.Start(ctx.Done())
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil, fmt.Errorf("listing the objects in namespace %s: %w", spec.Namespace, context.Cause(ctx))
	}
	return w, nil
}

// unwrap returns a deleted object, also when the informer only knows its
// last state.
func unwrap(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func (w *watcher) deployment(obj any) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return
	}
	v := viewDeployment(d)
	w.mu.Lock()
	same := w.deps[d.Name] == v
	w.deps[d.Name] = v
	w.mu.Unlock()
	if !same {
		w.p.line("k8s deployment", "%s", v)
	}
}

func (w *watcher) deploymentGone(obj any) {
	d, ok := unwrap(obj).(*appsv1.Deployment)
	if !ok {
		return
	}
	w.mu.Lock()
	delete(w.deps, d.Name)
	w.mu.Unlock()
	w.p.line("k8s deployment", "%-14s deleted", d.Name)
}

func (w *watcher) route(obj any) {
	r, ok := obj.(*gwv1.HTTPRoute)
	if !ok || r.Name != w.spec.RouteName() {
		return
	}
	v := viewRoute(r, w.spec.RoleObject(rollout.RoleStable), w.spec.RoleObject(rollout.RoleCanary))
	w.follow("k8s httproute", fmt.Sprintf("%-14s %s", r.Name, v), v.Weight)
}

func (w *watcher) routeGone(obj any) {
	if r, ok := unwrap(obj).(*gwv1.HTTPRoute); ok && r.Name == w.spec.RouteName() {
		w.follow("k8s httproute", fmt.Sprintf("%-14s deleted", r.Name), 0)
	}
}

func (w *watcher) ingress(obj any) {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok || ing.Name != w.spec.IngressName() {
		return
	}
	wt := ingressWeight(ing)
	w.follow("k8s ingress", fmt.Sprintf("%-14s canary-weight=%q", ing.Name, ing.Annotations[annotationCanaryWeight]), wt)
}

func (w *watcher) ingressGone(obj any) {
	if ing, ok := unwrap(obj).(*networkingv1.Ingress); ok && ing.Name == w.spec.IngressName() {
		w.follow("k8s ingress", fmt.Sprintf("%-14s deleted", ing.Name), 0)
	}
}

// follow prints the traffic object's new state and, when its weight
// changed, sets the local router to it before anyone waiting on the weight
// hears of it.
func (w *watcher) follow(kind, shown string, weight int) {
	w.mu.Lock()
	moved := weight != w.weight || len(w.weights) == 0
	fresh := shown != w.shown
	w.shown = shown
	w.mu.Unlock()
	if moved {
		if err := w.setRouterRetrying(weight); err != nil {
			w.p.line(kind, "%s  (local router NOT updated: %v)", shown, err)
			return
		}
	}
	if fresh {
		w.p.line(kind, "%s  → local router %d%%", shown, weight)
	}
	if moved {
		w.mu.Lock()
		w.weight = weight
		w.weights = append(w.weights, weight)
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
}

// setRouterRetrying sets the local router's weight, retrying for a few
// seconds: the router is a local process and answers at once unless it is
// starved of CPU.
func (w *watcher) setRouterRetrying(weight int) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = w.setRouter(w.ctx, weight); err == nil {
			return nil
		}
		slog.Debug("demo-k8s: setting the local router's weight", "weight", weight, "err", err)
		select {
		case <-w.ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
	return err
}

// waitWeight blocks until the traffic object's canary weight satisfies ok,
// and returns when it saw it.
func (w *watcher) waitWeight(ctx context.Context, ok func(int) bool) (time.Time, error) {
	for {
		w.mu.Lock()
		cur, ch := w.weight, w.changed
		w.mu.Unlock()
		if ok(cur) {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("waiting for the canary weight on the %s: %w", trafficObject(w.spec.Traffic.Kind), ctx.Err())
		case <-ch:
		}
	}
}

// history is every canary weight the traffic object had, in order.
func (w *watcher) history() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.weights...)
}
