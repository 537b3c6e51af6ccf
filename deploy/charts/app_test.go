package charts_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The release the app chart tests render, and its namespace.
const (
	release   = "shop"
	namespace = "prod"
)

// appValues are the values a rollout gives the app chart: the router, and
// the canary at weight when enabled.
func appValues(router string, enabled bool, weight int) map[string]any {
	v := values("router", router, "ingress.host", "shop.example.com")
	if router == "gatewayapi" {
		v = values("router", router, "ingress.host", "shop.example.com",
			"gateway.name", "public", "gateway.namespace", "gateways")
	}
	if enabled {
		v["canary"] = map[string]any{"enabled": true, "trafficWeight": weight}
		v["backend"] = map[string]any{"canary": map[string]any{
			"image": map[string]any{"repository": "registry.example.com/backend", "tag": "v1.1.0"},
		}}
	}
	return v
}

// TestAppChart renders and lints the app chart with each router, the canary
// enabled and disabled, and checks every object the naming contract names:
// the Go side (rollout.Spec's ReleaseName, RoleObject, IngressName,
// RouteName) and the routers find them by these names and shapes.
func TestAppChart(t *testing.T) {
	for _, router := range []string{"nginx", "gatewayapi", "none"} {
		for _, enabled := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/canary=%t", router, enabled), func(t *testing.T) {
				vals := appValues(router, enabled, 25)
				lintChart(t, appChart, namespace, vals)
				r := mustRender(t, appChart, release, namespace, vals)

				roles := []string{"stable"}
				if enabled {
					roles = append(roles, "canary")
				}
				want := map[string][]string{
					"Deployment": roleNames(roles),
					"Service":    roleNames(roles),
					"Job":        {"shop-smoke"},
				}
				switch {
				case router == "nginx" && enabled:
					want["Ingress"] = []string{"shop", "shop-canary"}
				case router == "nginx":
					want["Ingress"] = []string{"shop"}
				case router == "gatewayapi":
					want["HTTPRoute"] = []string{"shop"}
				}
				assert.Equal(t, kindsAndNames(want), r.all(), "rendered objects")

				checkCommonLabels(t, r)
				checkDeployment(t, r, "stable", 3, "registry.example.com/backend:v1.0.0")
				checkService(t, r, "stable")
				if enabled {
					checkDeployment(t, r, "canary", 1, "registry.example.com/backend:v1.1.0")
					checkService(t, r, "canary")
				}
				switch router {
				case "nginx":
					checkIngresses(t, r, enabled, "25", "X-Canary", "canary")
				case "gatewayapi":
					checkRoute(t, r, enabled, 25, "X-Canary", "canary")
				}
				checkSmokeJob(t, r, roles)
			})
		}
	}
}

// TestAppChartWeightsAndPins checks the weight at its bounds and the
// overridable names: a custom app label, header and cookie reach the pods'
// labels, the Services' selectors, the nginx annotations and the HTTPRoute's
// matches (the cookie quoted in its regular expression).
func TestAppChartWeightsAndPins(t *testing.T) {
	for _, w := range []int{0, 100} {
		for _, router := range []string{"nginx", "gatewayapi"} {
			vals := appValues(router, true, w)
			vals["app"] = "agence"
			c := vals["canary"].(map[string]any)
			c["header"], c["cookie"] = "X-Beta", "beta.v2"
			r := mustRender(t, appChart, release, namespace, vals)
			if router == "nginx" {
				checkIngresses(t, r, true, fmt.Sprint(w), "X-Beta", "beta.v2")
			} else {
				checkRoute(t, r, true, int32(w), "X-Beta", "beta.v2")
			}
			d := get[appsv1.Deployment](t, r, "Deployment", "shop-canary")
			assert.Equal(t, "agence", d.Spec.Template.Labels["app"])
			s := get[corev1.Service](t, r, "Service", "shop-stable")
			assert.Equal(t, "agence", s.Spec.Selector["app"])
		}
	}
}

// TestAppChartRouteWithoutGateway: a release the Helm deployer installs
// from the chart's defaults names no Gateway; its HTTPRoute still renders,
// with the rule shape the router edits, attached to nothing.
func TestAppChartRouteWithoutGateway(t *testing.T) {
	vals := values("router", "gatewayapi", "canary.enabled", true, "canary.trafficWeight", 0,
		"backend.canary.image.repository", "registry.example.com/backend", "backend.canary.image.tag", "v1.1.0")
	lintChart(t, appChart, namespace, vals)
	r := mustRender(t, appChart, release, namespace, vals)
	rt := get[gatewayv1.HTTPRoute](t, r, "HTTPRoute", release)
	assert.Empty(t, rt.Spec.ParentRefs)
	assert.Empty(t, rt.Spec.Hostnames)
	require.Len(t, rt.Spec.Rules, 4)
	assert.Empty(t, rt.Spec.Rules[3].Matches)
	require.Len(t, rt.Spec.Rules[3].BackendRefs, 2)
	assert.Equal(t, ptr.To[int32](100), rt.Spec.Rules[3].BackendRefs[0].Weight)
	assert.Equal(t, ptr.To[int32](0), rt.Spec.Rules[3].BackendRefs[1].Weight)
}

// TestAppChartRefusesBadValues shows that values a rollout or a person could
// get wrong fail before anything is rendered, with the schema's message
// naming the field, from both `helm install` and `helm lint`.
func TestAppChartRefusesBadValues(t *testing.T) {
	canary := func(kv ...any) map[string]any {
		return values(append([]any{"canary.enabled", true, "canary.trafficWeight", 10,
			"backend.canary.image.repository", "registry.example.com/backend", "backend.canary.image.tag", "v1.1.0"}, kv...)...)
	}
	for _, tc := range []struct {
		name string
		vals map[string]any
		want []string
	}{
		{"weight above 100", canary("canary.trafficWeight", 150),
			[]string{"at '/canary/trafficWeight': maximum: got 150, want 100"}},
		{"negative weight", canary("canary.trafficWeight", -1),
			[]string{"at '/canary/trafficWeight': minimum: got -1, want 0"}},
		{"fractional weight", canary("canary.trafficWeight", 12.5),
			[]string{"at '/canary/trafficWeight': got number, want integer"}},
		{"canary enabled without its tag",
			values("canary.enabled", true, "backend.canary.image.repository", "registry.example.com/backend"),
			[]string{"at '/backend/canary/image': missing property 'tag'"}},
		{"canary enabled without its image",
			values("canary.enabled", true),
			[]string{"at '/backend/canary/image': missing properties 'repository', 'tag'"}},
		{"canary enabled with an empty repository", canary("backend.canary.image.repository", ""),
			[]string{"at '/backend/canary/image/repository': minLength: got 0, want 1"}},
		{"unknown router", values("router", "haproxy"),
			[]string{"at '/router': value must be one of 'nginx', 'gatewayapi', 'none'"}},
		{"gateway name that is no name", values("router", "gatewayapi", "gateway.name", "Public Gateway"),
			[]string{"at '/gateway/name'"}},
		{"negative replicas", values("backend.replicas", -1),
			[]string{"at '/backend/replicas': minimum: got -1, want 0"}},
		{"misspelt key", values("canary.trafficweight", 10),
			[]string{"at '/canary': additional properties 'trafficweight' not allowed"}},
		{"header that is no header name", canary("canary.header", "X Canary"),
			[]string{"at '/canary/header'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderChart(t, appChart, release, namespace, tc.vals)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "values don't meet the specifications of the schema")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Contains(t, strings.Join(lintMessages(appChart, namespace, tc.vals, support.ErrorSev), "\n"), tc.want[0], "helm lint")
		})
	}
}

func roleNames(roles []string) []string {
	var out []string
	for _, r := range roles {
		out = append(out, release+"-"+r)
	}
	return out
}

// kindsAndNames lists kind/name for each name of each kind, sorted as rendered.all does.
func kindsAndNames(m map[string][]string) []string {
	var out []string
	for kind, names := range m {
		for _, n := range names {
			out = append(out, kind+"/"+n)
		}
	}
	sort.Strings(out)
	return out
}

// checkCommonLabels: every object carries the chart's app.kubernetes.io labels.
func checkCommonLabels(t *testing.T, r *rendered) {
	t.Helper()
	for kind, objs := range r.objects {
		for name := range objs {
			m := meta(t, r, kind, name)
			assert.Equal(t, release, m.Labels["app.kubernetes.io/instance"], "%s %s", kind, name)
			assert.Equal(t, "app", m.Labels["app.kubernetes.io/name"], "%s %s", kind, name)
			assert.Equal(t, "Helm", m.Labels["app.kubernetes.io/managed-by"], "%s %s", kind, name)
			assert.Equal(t, release, m.Labels["app"], "%s %s", kind, name)
		}
	}
}

func checkDeployment(t *testing.T, r *rendered, role string, replicas int32, image string) {
	t.Helper()
	d := get[appsv1.Deployment](t, r, "Deployment", release+"-"+role)
	assert.Equal(t, ptr.To(replicas), d.Spec.Replicas, "%s replicas", role)
	pod := d.Spec.Template
	assert.Equal(t, release, pod.Labels["app"])
	assert.Equal(t, role, pod.Labels["version"], "scraped metrics carry the version")
	assert.Equal(t, map[string]string{"app.kubernetes.io/instance": release, "app": release, "version": role},
		d.Spec.Selector.MatchLabels)
	assert.Equal(t, "true", pod.Annotations["prometheus.io/scrape"])
	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	assert.Equal(t, image, c.Image)
	assert.Equal(t, []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}, c.Ports)
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		require.NotNil(t, p, "%s probe", name)
		require.NotNil(t, p.HTTPGet, "%s probe", name)
		assert.Equal(t, "/health", p.HTTPGet.Path, "%s probe", name)
		assert.Equal(t, "http", p.HTTPGet.Port.String(), "%s probe", name)
	}
	assert.Equal(t, "512Mi", c.Resources.Limits.Memory().String())
	assert.Equal(t, "100m", c.Resources.Requests.Cpu().String())
	assert.Contains(t, c.Env, corev1.EnvVar{Name: "CANARYFLOW_ROLE", Value: role})
}

func checkService(t *testing.T, r *rendered, role string) {
	t.Helper()
	s := get[corev1.Service](t, r, "Service", release+"-"+role)
	assert.Equal(t, release, s.Spec.Selector["app"])
	assert.Equal(t, role, s.Spec.Selector["version"])
	require.Len(t, s.Spec.Ports, 1)
	assert.Equal(t, "http", s.Spec.Ports[0].Name)
	assert.Equal(t, int32(8080), s.Spec.Ports[0].Port)
}

func checkIngresses(t *testing.T, r *rendered, enabled bool, weight, header, cookie string) {
	t.Helper()
	backendOf := func(ing networkingv1.Ingress) string {
		require.Len(t, ing.Spec.Rules, 1)
		assert.Equal(t, "shop.example.com", ing.Spec.Rules[0].Host)
		require.Len(t, ing.Spec.Rules[0].HTTP.Paths, 1)
		p := ing.Spec.Rules[0].HTTP.Paths[0]
		assert.Equal(t, "/", p.Path)
		assert.Equal(t, "http", p.Backend.Service.Port.Name)
		assert.Equal(t, ptr.To("nginx"), ing.Spec.IngressClassName)
		return p.Backend.Service.Name
	}
	main := get[networkingv1.Ingress](t, r, "Ingress", release)
	assert.Equal(t, "shop-stable", backendOf(main))
	assert.NotContains(t, main.Annotations, "nginx.ingress.kubernetes.io/canary")
	if !enabled {
		return
	}
	canary := get[networkingv1.Ingress](t, r, "Ingress", release+"-canary")
	assert.Equal(t, "shop-canary", backendOf(canary))
	assert.Equal(t, map[string]string{
		"nginx.ingress.kubernetes.io/canary":           "true",
		"nginx.ingress.kubernetes.io/canary-weight":    weight,
		"nginx.ingress.kubernetes.io/canary-by-header": header,
		"nginx.ingress.kubernetes.io/canary-by-cookie": cookie,
	}, canary.Annotations)
}

func checkRoute(t *testing.T, r *rendered, enabled bool, weight int32, header, cookie string) {
	t.Helper()
	rt := get[gatewayv1.HTTPRoute](t, r, "HTTPRoute", release)
	require.Len(t, rt.Spec.ParentRefs, 1)
	assert.Equal(t, gatewayv1.ObjectName("public"), rt.Spec.ParentRefs[0].Name)
	assert.Equal(t, ptr.To(gatewayv1.Namespace("gateways")), rt.Spec.ParentRefs[0].Namespace)
	assert.Equal(t, []gatewayv1.Hostname{"shop.example.com"}, rt.Spec.Hostnames)

	type ref struct {
		name   string
		weight *int32
	}
	refs := func(rule gatewayv1.HTTPRouteRule) []ref {
		var out []ref
		for _, b := range rule.BackendRefs {
			assert.Equal(t, ptr.To(gatewayv1.PortNumber(8080)), b.Port)
			out = append(out, ref{string(b.Name), b.Weight})
		}
		return out
	}
	headerMatch := func(rule gatewayv1.HTTPRouteRule) gatewayv1.HTTPHeaderMatch {
		require.Len(t, rule.Matches, 1)
		require.Len(t, rule.Matches[0].Headers, 1)
		return rule.Matches[0].Headers[0]
	}
	rules := rt.Spec.Rules
	if !enabled {
		require.Len(t, rules, 1)
		assert.Empty(t, rules[0].Matches)
		assert.Equal(t, []ref{{"shop-stable", ptr.To[int32](100)}}, refs(rules[0]))
		return
	}
	require.Len(t, rules, 4)

	h := headerMatch(rules[0])
	assert.Equal(t, gatewayv1.HTTPHeaderName(header), h.Name)
	assert.Equal(t, "always", h.Value)
	assert.Contains(t, []*gatewayv1.HeaderMatchType{nil, ptr.To(gatewayv1.HeaderMatchExact)}, h.Type)
	assert.Equal(t, []ref{{"shop-canary", nil}}, refs(rules[0]))

	c := headerMatch(rules[1])
	assert.Equal(t, gatewayv1.HTTPHeaderName("Cookie"), c.Name)
	assert.Equal(t, ptr.To(gatewayv1.HeaderMatchRegularExpression), c.Type)
	assert.Equal(t, `(^|;\s*)`+regexp.QuoteMeta(cookie)+`=always(;|$)`, c.Value)
	re := regexp.MustCompile(c.Value)
	for cookies, pinned := range map[string]bool{
		cookie + "=always":                  true,
		"a=1; " + cookie + "=always":        true,
		"a=1;" + cookie + "=always; b=2":    true,
		cookie + "=never":                   false,
		"x" + cookie + "=always":            false,
		cookie + "=alwaysnot":               false,
		strings.ToUpper(cookie) + "=always": false,
	} {
		assert.Equal(t, pinned, re.MatchString(cookies), "Cookie: %s", cookies)
	}
	assert.Equal(t, []ref{{"shop-canary", nil}}, refs(rules[1]))

	n := headerMatch(rules[2])
	assert.Equal(t, gatewayv1.HTTPHeaderName(header), n.Name)
	assert.Equal(t, "never", n.Value)
	assert.Equal(t, []ref{{"shop-stable", nil}}, refs(rules[2]))

	// The default rule, as the gatewayapi router finds it: no matches, stable first.
	assert.Empty(t, rules[3].Matches)
	assert.Equal(t, []ref{{"shop-stable", ptr.To(100 - weight)}, {"shop-canary", ptr.To(weight)}}, refs(rules[3]))
}

func checkSmokeJob(t *testing.T, r *rendered, roles []string) {
	t.Helper()
	j := get[batchv1.Job](t, r, "Job", release+"-smoke")
	assert.Equal(t, "test", j.Annotations["helm.sh/hook"], "the smoke test runs as `helm test`")
	assert.Equal(t, ptr.To[int32](0), j.Spec.BackoffLimit)
	pod := j.Spec.Template.Spec
	assert.Equal(t, corev1.RestartPolicyNever, pod.RestartPolicy)
	require.NotNil(t, pod.SecurityContext)
	assert.Equal(t, ptr.To[int64](65534), pod.SecurityContext.RunAsUser, "runAsNonRoot needs a numeric user")
	assert.Equal(t, ptr.To(true), pod.SecurityContext.RunAsNonRoot)
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	assert.Equal(t, "curlimages/curl:8.11.1", c.Image)
	// The script's arguments are the Services it checks, each on /health.
	require.Len(t, c.Args, 2+len(roles))
	assert.Contains(t, c.Args[0], ":8080/health")
	assert.Equal(t, roleNames(roles), c.Args[2:])
}
