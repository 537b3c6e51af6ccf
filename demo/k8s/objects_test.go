package k8s

import (
	"testing"

	"github.com/stretchr/testify/assert"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func ref(name string, weight *int32) gwv1.HTTPBackendRef {
	return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name)},
		Weight:                 weight,
	}}
}

func w32(v int32) *int32 { return &v }

func TestViewRouteReadsTheDefaultRule(t *testing.T) {
	prefix, slash := gwv1.PathMatchPathPrefix, "/"
	pinned := gwv1.HTTPRouteRule{
		Matches:     []gwv1.HTTPRouteMatch{{Headers: []gwv1.HTTPHeaderMatch{{Name: "X-Canary", Value: "always"}}}},
		BackendRefs: []gwv1.HTTPBackendRef{ref("demo-canary", nil)},
	}
	// The API server stores a rule without matches with a PathPrefix "/" one.
	everything := []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &prefix, Value: &slash}}}
	for _, c := range []struct {
		name  string
		rules []gwv1.HTTPRouteRule
		want  routeView
	}{
		{"split", []gwv1.HTTPRouteRule{pinned, {Matches: everything, BackendRefs: []gwv1.HTTPBackendRef{ref("demo-stable", w32(75)), ref("demo-canary", w32(25))}}},
			routeView{Refs: []string{"demo-stable=75", "demo-canary=25"}, Weight: 25}},
		{"no canary ref", []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{ref("demo-stable", w32(100))}}},
			routeView{Refs: []string{"demo-stable=100"}}},
		{"unset weights are 1 each", []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{ref("demo-stable", nil), ref("demo-canary", nil)}}},
			routeView{Refs: []string{"demo-stable=1", "demo-canary=1"}, Weight: 50}},
		{"both zero", []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{ref("demo-stable", w32(0)), ref("demo-canary", w32(0))}}},
			routeView{Refs: []string{"demo-stable=0", "demo-canary=0"}}},
		{"only pinned rules", []gwv1.HTTPRouteRule{pinned}, routeView{Refs: []string{"(no default rule)"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &gwv1.HTTPRoute{Spec: gwv1.HTTPRouteSpec{Rules: c.rules}}
			assert.Equal(t, c.want, viewRoute(r, "demo-stable", "demo-canary"))
		})
	}
}

func TestIngressWeight(t *testing.T) {
	for ann, want := range map[string]int{"10": 10, "0": 0, "": 0, "x": 0, "-5": 0, "150": 100} {
		ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{}}}
		if ann != "" {
			ing.Annotations[annotationCanaryWeight] = ann
		}
		assert.Equal(t, want, ingressWeight(ing), "annotation %q", ann)
	}
}
