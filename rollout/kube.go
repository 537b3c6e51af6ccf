package rollout

import "fmt"

// NginxTraffic names the canary Ingress whose annotations carry the weight.
type NginxTraffic struct {
	// Ingress is the canary Ingress; default "<release>-canary" as the app chart names it.
	Ingress string `json:"ingress,omitempty"`
}

// GatewayAPITraffic names the HTTPRoute whose backendRefs weights split
// stable and canary.
type GatewayAPITraffic struct {
	// Route is the HTTPRoute; default "<release>" as the app chart names it.
	Route string `json:"route,omitempty"`
}

// Release is the Helm release a rollout manages; the app chart names every
// object after it. Without a Helm section it is the app's name.
func (s Spec) ReleaseName() string {
	if s.Deploy.Helm != nil && s.Deploy.Helm.Release != "" {
		return s.Deploy.Helm.Release
	}
	return s.App
}

// StableObject and CanaryObject name the app chart's per-role objects
// (Deployment and Service): "<release>-stable", "<release>-canary".
func (s Spec) RoleObject(role Role) string { return s.ReleaseName() + "-" + string(role) }

// IngressName is the canary Ingress the nginx router sets the weight on.
func (s Spec) IngressName() string {
	if s.Traffic.Nginx != nil && s.Traffic.Nginx.Ingress != "" {
		return s.Traffic.Nginx.Ingress
	}
	return s.ReleaseName() + "-canary"
}

// RouteName is the HTTPRoute the gatewayapi router sets the weights on.
func (s Spec) RouteName() string {
	if s.Traffic.GatewayAPI != nil && s.Traffic.GatewayAPI.Route != "" {
		return s.Traffic.GatewayAPI.Route
	}
	return s.ReleaseName()
}

// kube checks the Kubernetes names a spec gives: each must be a DNS-1123
// subdomain (or label, for the release) no longer than the API allows.
func (c *checker) kube(s Spec) {
	if h := s.Deploy.Helm; h != nil && h.Release != "" {
		c.dnsLabel("deploy.helm.release", h.Release)
		if len(h.Release) > 53 {
			c.add("deploy.helm.release", "must be at most 53 characters (Helm's limit), got %d", len(h.Release))
		}
	}
	if n := s.Traffic.Nginx; n != nil && n.Ingress != "" {
		c.dnsLabel("traffic.nginx.ingress", n.Ingress)
	}
	if g := s.Traffic.GatewayAPI; g != nil && g.Route != "" {
		c.dnsLabel("traffic.gatewayapi.route", g.Route)
	}
	if s.KubeContext != "" {
		c.length("kubeContext", s.KubeContext, MaxValueLen)
	}
	if len(s.ReleaseName())+len("-canary") > 63 {
		c.add("app", "with its -canary suffix must fit a 63-character Kubernetes name; %q is too long", fmt.Sprint(s.ReleaseName()))
	}
}
