package k8s

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/rollout"
)

// printAddresses says where to look while the rollout runs.
func (e *Env) printAddresses(p *printer, o ScenarioOptions, s *standIns) {
	objects := map[string]string{"gatewayapi": "deploy,httproute", "nginx": "deploy,ingress"}[o.Router]
	steer := "bin/starter status|watch|abort|pause|resume|promote --app " + o.App + " --namespace " + o.App
	if addr := e.Temporal.Address(); addr != "127.0.0.1:7233" {
		steer += " --address " + addr
	}
	fmt.Fprintf(p, `
  kube-apiserver  %s  (one kwok node: %s)
  kubeconfig      %s
                  (kubectl --kubeconfig <it> -n %s get %s -w)
  Temporal UI     %s/namespaces/%s/workflows
  Prometheus      %s
  local router    %s  (try: curl -H 'X-Canary: always' %s/health)
  worker log      %s
  steer it        %s

`, e.Kube.Host(), e.Kube.NodeName(), e.Kube.KubeconfigPath(), o.App, objects,
		e.Temporal.UIURL(), e.Temporal.Namespace(), s.Prometheus.URL(), s.RouterURL, s.RouterURL, e.WorkerLogPath(), steer)
}

// printEnd prints the outcome and what is left on the cluster.
func (e *Env) printEnd(ctx context.Context, p *printer, spec rollout.Spec, res Result) {
	fmt.Fprintf(p, "\n%s\n", control.FormatStatus(res.Status))
	if res.FaultToZero > 0 {
		fmt.Fprintf(p, "fault injection → canary weight 0 on the %s: %s\n", trafficObject(spec.Traffic.Kind), res.FaultToZero.Round(time.Millisecond))
	}
	fmt.Fprintf(p, "canary weights on the %s, in order: %v\n", trafficObject(spec.Traffic.Kind), res.Weights)
	fmt.Fprintln(p, "on the cluster now:")
	for _, line := range e.objects(ctx, spec) {
		fmt.Fprintf(p, "  %s\n", line)
	}
	fmt.Fprintf(p, "load through the local router: %s\n", res.Load)
	fmt.Fprintf(p, "rollout took %s and ended %s\n", res.Took.Round(time.Second), res.Status.Phase)
}

// objects describes the namespace's Deployments and traffic object as read
// from the API server now.
func (e *Env) objects(ctx context.Context, spec rollout.Spec) []string {
	var lines []string
	deps, err := e.Kube.Client().AppsV1().Deployments(spec.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return []string{"listing Deployments: " + err.Error()}
	}
	for i := range deps.Items {
		lines = append(lines, "deployment "+viewDeployment(&deps.Items[i]).String())
	}
	switch spec.Traffic.Kind {
	case "gatewayapi":
		r, err := e.Gateway.GatewayV1().HTTPRoutes(spec.Namespace).Get(ctx, spec.RouteName(), metav1.GetOptions{})
		if err != nil {
			return append(lines, "reading the HTTPRoute: "+err.Error())
		}
		v := viewRoute(r, spec.RoleObject(rollout.RoleStable), spec.RoleObject(rollout.RoleCanary))
		lines = append(lines, fmt.Sprintf("httproute  %-14s %s  (canary weight %d%%)", r.Name, v, v.Weight))
	case "nginx":
		ing, err := e.Kube.Client().NetworkingV1().Ingresses(spec.Namespace).Get(ctx, spec.IngressName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			lines = append(lines, fmt.Sprintf("ingress    %-14s gone (canary weight 0%%)", spec.IngressName()))
		case err != nil:
			lines = append(lines, "reading the canary Ingress: "+err.Error())
		default:
			lines = append(lines, fmt.Sprintf("ingress    %-14s canary-weight=%q", ing.Name, ing.Annotations[annotationCanaryWeight]))
		}
	}
	return lines
}
