package k8s

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// annotationCanaryWeight is ingress-nginx's canary share annotation, the
// one the nginx router edits.
const annotationCanaryWeight = "nginx.ingress.kubernetes.io/canary-weight"

// trafficObject names what a router kind sets the weight on, for a user.
func trafficObject(kind string) string {
	if kind == "nginx" {
		return "canary Ingress"
	}
	return "HTTPRoute"
}

// printer writes whole lines to one terminal from several goroutines (the
// object watches, the rollout's status, the fault injector), in the same
// "time  kind  text" shape as control.FormatEvent so the streams read as one.
type printer struct {
	mu  sync.Mutex
	out io.Writer
}

// line prints one timestamped line under kind.
func (p *printer) line(kind, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "%s  %-15s %s\n", time.Now().Format(time.TimeOnly), kind, fmt.Sprintf(format, args...))
}

// Write lets control.Watch print through the same lock.
func (p *printer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// deploymentView is what `kubectl get deploy` shows of a Deployment, and
// what is printed whenever it changes.
type deploymentView struct {
	Name     string
	Image    string
	Ready    int32
	Replicas int32
	// UpToDate counts pods of the current template; ready may exceed
	// replicas while a rolling update surges.
	UpToDate int32
}

func (d deploymentView) String() string {
	return fmt.Sprintf("%-14s %-24s ready %d/%d  up-to-date %d", d.Name, d.Image, d.Ready, d.Replicas, d.UpToDate)
}

func viewDeployment(d *appsv1.Deployment) deploymentView {
	v := deploymentView{Name: d.Name, Ready: d.Status.ReadyReplicas, UpToDate: d.Status.UpdatedReplicas, Replicas: 1}
	if d.Spec.Replicas != nil {
		v.Replicas = *d.Spec.Replicas
	}
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		v.Image = cs[0].Image
	}
	return v
}

// routeView is the HTTPRoute's default rule as a user reads it: each
// backendRef with its weight, and the canary's share in percent.
type routeView struct {
	// Refs are "service=weight" in the rule's order.
	Refs []string
	// Weight is the canary's percentage of the default rule's traffic.
	Weight int
}

func (r routeView) String() string {
	return fmt.Sprintf("backendRefs %s", strings.Join(r.Refs, " "))
}

// viewRoute reads the canary weight off route the way a Gateway's data plane
// would: the default rule (no header, query or method match) splits requests
// between its backendRefs by weight, an unset weight being Gateway API's 1.
// A route without a canary backendRef sends it nothing.
func viewRoute(route *gwv1.HTTPRoute, stable, canary string) routeView {
	for _, rule := range route.Spec.Rules {
		if !matchesEverything(rule) {
			continue
		}
		var v routeView
		var s, c int32
		for _, b := range rule.BackendRefs {
			w := int32(1)
			if b.Weight != nil {
				w = *b.Weight
			}
			v.Refs = append(v.Refs, fmt.Sprintf("%s=%d", b.Name, w))
			switch string(b.Name) {
			case stable:
				s += w
			case canary:
				c += w
			}
		}
		if s+c > 0 {
			v.Weight = int(math.Round(float64(c) * 100 / float64(s+c)))
		}
		return v
	}
	return routeView{Refs: []string{"(no default rule)"}}
}

// matchesEverything reports whether rule takes requests that no header pins:
// no matches, or only the "/" path prefix the API server defaults to.
func matchesEverything(rule gwv1.HTTPRouteRule) bool {
	return !slices.ContainsFunc(rule.Matches, func(m gwv1.HTTPRouteMatch) bool {
		if len(m.Headers) > 0 || len(m.QueryParams) > 0 || m.Method != nil {
			return true
		}
		return m.Path != nil && m.Path.Value != nil && *m.Path.Value != "/"
	})
}

// ingressWeight reads the canary Ingress's canary-weight annotation; a
// missing or unreadable one sends the canary nothing, as ingress-nginx does.
func ingressWeight(ing *networkingv1.Ingress) int {
	w, err := strconv.Atoi(ing.Annotations[annotationCanaryWeight])
	if err != nil || w < 0 {
		return 0
	}
	return min(w, 100)
}
