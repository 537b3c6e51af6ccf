// Package gatewayapi is the TrafficRouter for Gateway API HTTPRoutes: the
// canary's share of traffic is the weight of its backendRef in the route's
// default rule. The route is the one the app chart renders
// (spec.RouteName(), "<release>" by default, in spec.Namespace): rules
// with header or cookie matches pin requests to the canary, and one
// default rule sends the rest to the "<release>-stable" Service and, while a
// canary runs, to "<release>-canary". The router edits only the two
// weights of that default rule.
package gatewayapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gateway "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/canaryflow/canaryflow/activities/kubeconfig"
	"github.com/canaryflow/canaryflow/rollout"
)

// Router sets the canary weight on HTTPRoutes through the API server. One
// Router serves every rollout: the namespace, route, Services and kube
// context come from each spec. Its methods are safe to call twice and
// concurrently.
type Router struct {
	clients *kubeconfig.Clients[gateway.Interface]
	// beforeUpdate, when set (by tests), runs between reading the route
	// and writing it back, where a concurrent writer would interfere.
	beforeUpdate func()
}

// New returns a Router connecting through config, called with each spec's
// kubeContext ("" for the default); (*kubeconfig.Loader).Config is meant
// for it, and nil means a zero Loader's (kubectl's rules, then in-cluster).
func New(config func(kubeContext string) (*rest.Config, error)) *Router {
	build := func(cfg *rest.Config) (gateway.Interface, error) { return gateway.NewForConfig(cfg) }
	return &Router{clients: kubeconfig.NewClients(config, build)}
}

// errNoCanaryRef is what SetWeight finds when the default rule has no
// canary backendRef: fine at weight 0, permanent otherwise.
var errNoCanaryRef = errors.New("no canary backendRef")

// SetWeight gives the canary weight percent of the default rule's traffic
// (stable gets 100-weight), with optimistic concurrency: each attempt
// writes back the resourceVersion it read, and a Conflict (someone else
// wrote in between) reads again and reapplies the change, so no other
// writer's edit is lost. Conflicts that outlast kubeconfig.ConflictRetry
// are returned as retryable.
//
// Setting 0 succeeds when there is no route or no canary backendRef: no
// traffic reaches the canary through either. Any other weight then fails
// permanently, as do a weight outside 0–100, a route without a default
// rule for the stable Service, refused permissions and an update the API
// server rejects as invalid.
func (r *Router) SetWeight(ctx context.Context, spec rollout.Spec, weight int) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("setting canary weight %d: must be between 0 and 100: %w", weight, rollout.ErrPermanent)
	}
	routes, err := r.routes(spec)
	if err != nil {
		return err
	}
	name := objectName(spec)
	err = retry.RetryOnConflict(kubeconfig.ConflictRetry, func() error {
		route, err := routes.Get(ctx, spec.RouteName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		stable, canary, err := backends(route, spec)
		if err != nil {
			return err
		}
		if canary == nil {
			return errNoCanaryRef
		}
		want := [2]int32{int32(100 - weight), int32(weight)}
		if weightOf(stable) == want[0] && weightOf(canary) == want[1] {
			return nil
		}
		// stable and canary point into route, so setting them edits the
		// default rule in place and nothing else.
		stable.Weight, canary.Weight = &want[0], &want[1]
		if r.beforeUpdate != nil {
			r.beforeUpdate()
		}
		// route carries the resourceVersion read above; the API server
		// refuses the write with a Conflict if the route changed since.
		_, err = routes.Update(ctx, route, metav1.UpdateOptions{FieldManager: "canaryflow"})
		return err
	})
	what := fmt.Sprintf("setting canary weight %d on HTTPRoute %s", weight, name)
	switch {
	case err == nil:
		slog.DebugContext(ctx, "gatewayapi: canary weight set", "route", name, "weight", weight)
		return nil
	case weight == 0 && (apierrors.IsNotFound(err) || errors.Is(err, errNoCanaryRef)):
		slog.DebugContext(ctx, "gatewayapi: no route or canary backendRef, so weight 0 holds", "route", name, "err", err)
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s: HTTPRoute not found (%w): %w", what, err, rollout.ErrPermanent)
	case errors.Is(err, errNoCanaryRef):
		return fmt.Errorf("%s: its default rule has no backendRef to Service %s: is the canary deployed? %w",
			what, spec.RoleObject(rollout.RoleCanary), rollout.ErrPermanent)
	case errors.Is(err, rollout.ErrPermanent):
		return fmt.Errorf("%s: %w", what, err)
	default:
		return kubeconfig.Classify(what, err)
	}
}

// Weight reads the canary's share of the default rule's traffic, in
// percent of the stable and canary weights together (an unset weight is
// Gateway API's default, 1; both 0 is 0). No route, or no canary
// backendRef, reads 0.
func (r *Router) Weight(ctx context.Context, spec rollout.Spec) (int, error) {
	routes, err := r.routes(spec)
	if err != nil {
		return 0, err
	}
	name := objectName(spec)
	route, err := routes.Get(ctx, spec.RouteName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, kubeconfig.Classify("reading HTTPRoute "+name, err)
	}
	stable, canary, err := backends(route, spec)
	if err != nil {
		return 0, fmt.Errorf("reading canary weight of HTTPRoute %s: %w", name, err)
	}
	if canary == nil {
		return 0, nil
	}
	s, c := float64(weightOf(stable)), float64(weightOf(canary))
	if s+c == 0 {
		return 0, nil
	}
	return int(math.Round(c * 100 / (s + c))), nil
}

type routeClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*gatewayv1.HTTPRoute, error)
	Update(ctx context.Context, route *gatewayv1.HTTPRoute, opts metav1.UpdateOptions) (*gatewayv1.HTTPRoute, error)
}

func (r *Router) routes(spec rollout.Spec) (routeClient, error) {
	if spec.Namespace == "" {
		return nil, fmt.Errorf("finding HTTPRoute %q: the spec names no namespace: %w", spec.RouteName(), rollout.ErrPermanent)
	}
	cs, err := r.clients.For(spec.KubeContext)
	if err != nil {
		return nil, fmt.Errorf("connecting to Kubernetes for HTTPRoute %s: %w", objectName(spec), err)
	}
	return cs.GatewayV1().HTTPRoutes(spec.Namespace), nil
}

// objectName is how errors and logs name the route: namespace/name.
func objectName(spec rollout.Spec) string { return spec.Namespace + "/" + spec.RouteName() }

// backends finds the default rule's stable and canary backendRefs, as
// pointers into route so that setting their weights edits it. canary is
// nil when the rule has none. A route without a default rule for the
// stable Service is a permanent error: the chart did not render it, and
// retrying cannot make it.
func backends(route *gatewayv1.HTTPRoute, spec rollout.Spec) (stable, canary *gatewayv1.BackendRef, err error) {
	stableName := spec.RoleObject(rollout.RoleStable)
	canaryName := spec.RoleObject(rollout.RoleCanary)
	for i := range route.Spec.Rules {
		rule := &route.Spec.Rules[i]
		if !isDefault(rule) {
			continue
		}
		stable, canary = nil, nil
		for j := range rule.BackendRefs {
			ref := &rule.BackendRefs[j].BackendRef
			switch {
			case stable == nil && isService(ref, route.Namespace, stableName):
				stable = ref
			case canary == nil && isService(ref, route.Namespace, canaryName):
				canary = ref
			}
		}
		if stable != nil {
			return stable, canary, nil
		}
	}
	return nil, nil, fmt.Errorf("HTTPRoute %s/%s has no default rule (one without header, query or method matches) with a backendRef to Service %s: %w",
		route.Namespace, route.Name, stableName, rollout.ErrPermanent)
}

// isDefault reports whether rule matches every request: it has no matches,
// or only matches of every path. The API server stores a rule written
// without matches with its default, one PathPrefix "/" match.
func isDefault(rule *gatewayv1.HTTPRouteRule) bool {
	for _, m := range rule.Matches {
		if len(m.Headers) > 0 || len(m.QueryParams) > 0 || m.Method != nil {
			return false
		}
		if p := m.Path; p != nil {
			if p.Type != nil && *p.Type != gatewayv1.PathMatchPathPrefix {
				return false
			}
			if p.Value != nil && *p.Value != "/" {
				return false
			}
		}
	}
	return true
}

// isService reports whether ref is the Service name in the route's namespace.
func isService(ref *gatewayv1.BackendRef, namespace, name string) bool {
	return string(ref.Name) == name &&
		(ref.Group == nil || *ref.Group == "") &&
		(ref.Kind == nil || *ref.Kind == "Service") &&
		(ref.Namespace == nil || string(*ref.Namespace) == namespace)
}

// weightOf is ref's weight, with Gateway API's default of 1 when unset.
func weightOf(ref *gatewayv1.BackendRef) int32 {
	if ref.Weight == nil {
		return 1
	}
	return *ref.Weight
}
