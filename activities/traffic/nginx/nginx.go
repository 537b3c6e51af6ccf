// Package nginx is the TrafficRouter for ingress-nginx canary Ingresses:
// the canary's share of traffic is the canary Ingress's
// nginx.ingress.kubernetes.io/canary-weight annotation. The Ingress is the
// one the app chart renders (spec.IngressName(), "<release>-canary" by
// default, in spec.Namespace); the router edits only the two canary
// annotations on it and leaves everything else as it found it.
package nginx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/canaryflow/canaryflow/activities/kubeconfig"
	"github.com/canaryflow/canaryflow/rollout"
)

// The ingress-nginx annotations the router reads and writes.
const (
	// AnnotationCanary marks an Ingress as a canary of the main Ingress for
	// the same host; without it the Ingress would compete with the main one.
	AnnotationCanary = "nginx.ingress.kubernetes.io/canary"
	// AnnotationWeight is the canary's share of requests, out of
	// AnnotationWeightTotal.
	AnnotationWeight = "nginx.ingress.kubernetes.io/canary-weight"
	// AnnotationWeightTotal is what AnnotationWeight is a share of; absent
	// means 100. The router honours it but never sets it.
	AnnotationWeightTotal = "nginx.ingress.kubernetes.io/canary-weight-total"
)

// Router sets the canary weight on canary Ingresses through the API server.
// One Router serves every rollout: the namespace, Ingress and kube context
// come from each spec. Its methods are safe to call twice and concurrently.
type Router struct {
	clients *kubeconfig.Clients[kubernetes.Interface]
	// beforeUpdate, when set (by tests), runs between reading the Ingress
	// and writing it back, where a concurrent writer would interfere.
	beforeUpdate func()
}

// New returns a Router connecting through config, called with each spec's
// kubeContext ("" for the default); (*kubeconfig.Loader).Config is meant
// for it, and nil means a zero Loader's (kubectl's rules, then in-cluster).
func New(config func(kubeContext string) (*rest.Config, error)) *Router {
	build := func(cfg *rest.Config) (kubernetes.Interface, error) { return kubernetes.NewForConfig(cfg) }
	return &Router{clients: kubeconfig.NewClients(config, build)}
}

// SetWeight sets the canary Ingress's weight annotation to weight percent
// (and its canary annotation to "true"), with optimistic concurrency: each
// attempt writes back the resourceVersion it read, and a Conflict (someone
// else wrote in between) reads again and reapplies the change, so no other
// writer's edit is lost. Conflicts that outlast kubeconfig.ConflictRetry
// are returned as retryable.
//
// Setting 0 on an Ingress that does not exist succeeds: no traffic reaches
// a canary without one. Any other weight then fails permanently, as do a
// weight outside 0–100, refused permissions and an update the API server
// rejects as invalid.
func (r *Router) SetWeight(ctx context.Context, spec rollout.Spec, weight int) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("setting canary weight %d: must be between 0 and 100: %w", weight, rollout.ErrPermanent)
	}
	ingresses, err := r.ingresses(spec)
	if err != nil {
		return err
	}
	name := objectName(spec)
	var written string
	err = retry.RetryOnConflict(kubeconfig.ConflictRetry, func() error {
		ing, err := ingresses.Get(ctx, spec.IngressName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		value, err := annotationFor(ing, weight)
		if err != nil {
			return err
		}
		if ing.Annotations[AnnotationWeight] == value && isTrue(ing.Annotations[AnnotationCanary]) {
			written = value
			return nil
		}
		if ing.Annotations == nil {
			ing.Annotations = make(map[string]string)
		}
		ing.Annotations[AnnotationWeight] = value
		if !isTrue(ing.Annotations[AnnotationCanary]) {
			ing.Annotations[AnnotationCanary] = "true"
		}
		if r.beforeUpdate != nil {
			r.beforeUpdate()
		}
		// ing carries the resourceVersion read above; the API server refuses
		// the write with a Conflict if the Ingress changed since.
		_, err = ingresses.Update(ctx, ing, metav1.UpdateOptions{FieldManager: "canaryflow"})
		written = value
		return err
	})
	switch {
	case err == nil:
		slog.DebugContext(ctx, "nginx: canary weight set", "ingress", name, "weight", weight, "annotation", written)
		return nil
	case apierrors.IsNotFound(err) && weight == 0:
		slog.DebugContext(ctx, "nginx: no canary Ingress, so weight 0 holds", "ingress", name)
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("setting canary weight %d: canary Ingress %s not found: is the canary deployed? (%w): %w",
			weight, name, err, rollout.ErrPermanent)
	case errors.Is(err, rollout.ErrPermanent):
		return fmt.Errorf("setting canary weight %d on Ingress %s: %w", weight, name, err)
	default:
		return kubeconfig.Classify(fmt.Sprintf("setting canary weight %d on Ingress %s", weight, name), err)
	}
}

// Weight reads the canary's share of traffic, in percent, from the canary
// Ingress. No Ingress, or one without the canary annotation set to "true",
// serves the canary nothing and reads 0; an annotation that does not parse
// is an error naming it.
func (r *Router) Weight(ctx context.Context, spec rollout.Spec) (int, error) {
	ingresses, err := r.ingresses(spec)
	if err != nil {
		return 0, err
	}
	name := objectName(spec)
	ing, err := ingresses.Get(ctx, spec.IngressName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, kubeconfig.Classify("reading canary Ingress "+name, err)
	}
	if !isTrue(ing.Annotations[AnnotationCanary]) {
		return 0, nil
	}
	w, err := percent(ing)
	if err != nil {
		return 0, fmt.Errorf("reading canary weight of Ingress %s: %w", name, err)
	}
	return w, nil
}

type ingressClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*networkingv1.Ingress, error)
	Update(ctx context.Context, ing *networkingv1.Ingress, opts metav1.UpdateOptions) (*networkingv1.Ingress, error)
}

func (r *Router) ingresses(spec rollout.Spec) (ingressClient, error) {
	if spec.Namespace == "" {
		return nil, fmt.Errorf("finding canary Ingress %q: the spec names no namespace: %w", spec.IngressName(), rollout.ErrPermanent)
	}
	cs, err := r.clients.For(spec.KubeContext)
	if err != nil {
		return nil, fmt.Errorf("connecting to Kubernetes for Ingress %s: %w", objectName(spec), err)
	}
	return cs.NetworkingV1().Ingresses(spec.Namespace), nil
}

// objectName is how errors and logs name the Ingress: namespace/name.
func objectName(spec rollout.Spec) string { return spec.Namespace + "/" + spec.IngressName() }

// isTrue reads a boolean annotation as ingress-nginx does.
func isTrue(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// total is the Ingress's canary-weight-total, 100 when absent.
func total(ing *networkingv1.Ingress) (int, error) {
	v, ok := ing.Annotations[AnnotationWeightTotal]
	if !ok {
		return 100, nil
	}
	t, err := strconv.Atoi(v)
	if err != nil || t <= 0 {
		return 0, fmt.Errorf("annotation %s is %q, not a positive integer: %w", AnnotationWeightTotal, v, rollout.ErrPermanent)
	}
	return t, nil
}

// annotationFor is the canary-weight value that gives weight percent on ing.
func annotationFor(ing *networkingv1.Ingress, weight int) (string, error) {
	t, err := total(ing)
	if err != nil {
		return "", err
	}
	return strconv.Itoa(int(math.Round(float64(weight) * float64(t) / 100))), nil
}

// percent is ing's canary weight in percent of its total; an absent weight
// annotation is ingress-nginx's default, 0.
func percent(ing *networkingv1.Ingress) (int, error) {
	v, ok := ing.Annotations[AnnotationWeight]
	if !ok {
		return 0, nil
	}
	t, err := total(ing)
	if err != nil {
		return 0, err
	}
	w, err := strconv.Atoi(v)
	if err != nil || w < 0 || w > t {
		return 0, fmt.Errorf("annotation %s is %q, not an integer between 0 and %d", AnnotationWeight, v, t)
	}
	return int(math.Round(float64(w) * 100 / float64(t))), nil
}
