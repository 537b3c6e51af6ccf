package activities

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/canaryflow/canaryflow/rollout"
)

// leaky is a provider that quotes the spec's URLs in its errors, as a
// careless one would.
type leaky struct{}

func (leaky) SetWeight(context.Context, rollout.Spec, int) error { return nil }
func (leaky) Weight(_ context.Context, s rollout.Spec) (int, error) {
	return 0, fmt.Errorf("router %s said no to token %s", s.Traffic.Local.AdminURL, "s3cret-admin")
}
func (leaky) Measure(context.Context, rollout.Spec, time.Duration) (rollout.Sample, error) {
	return rollout.Sample{}, nil
}
func (leaky) Check(_ context.Context, s rollout.Spec) error {
	return fmt.Errorf("prometheus at %s: %w", s.Metrics.Prometheus.Address, rollout.ErrUnknownMetric)
}
func (leaky) Deploy(_ context.Context, s rollout.Spec, _ rollout.Role, _ rollout.Release) error {
	return fmt.Errorf("deploying behind %s", s.Smoke.BaseURL)
}
func (leaky) Ready(_ context.Context, s rollout.Spec, _ rollout.Role) (bool, string, error) {
	return false, "", fmt.Errorf("%w: probing %s", rollout.ErrPermanent, s.Smoke.BaseURL)
}
func (leaky) Remove(_ context.Context, s rollout.Spec, _ rollout.Role) error {
	return fmt.Errorf("removing behind %s", s.Smoke.BaseURL)
}

func leakySpec() rollout.Spec {
	return rollout.Spec{
		Deploy:  rollout.Deploy{Kind: "leaky"},
		Traffic: rollout.Traffic{Kind: "leaky", Local: &rollout.LocalTraffic{AdminURL: "http://router:8090/?token=s3cret-admin"}},
		Metrics: rollout.Metrics{Kind: "leaky", Prometheus: &rollout.PrometheusMetrics{Address: "http://admin:hunter2-prom@prom:9090"}},
		Smoke:   rollout.Smoke{BaseURL: "http://shop/?key=s3cret-smoke"},
		Notify:  rollout.Notify{Kind: "leaky"},
	}
}

func TestProviderErrorsAreRedactedAtTheActivity(t *testing.T) {
	a := &Activities{
		Deployers: map[string]Deployer{"leaky": leaky{}}, Routers: map[string]TrafficRouter{"leaky": leaky{}},
		Metrics: map[string]MetricsSource{"leaky": leaky{}}, Notifiers: map[string]Notifier{"leaky": nil},
	}
	spec := leakySpec()
	secrets := []string{"s3cret-admin", "hunter2-prom", "s3cret-smoke"}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	run := func(fn any, arg any) error {
		_, err := env.ExecuteActivity(fn, arg)
		return err
	}
	var errs []error
	errs = append(errs, run(a.Preflight, spec))
	okSpec := spec
	okSpec.Traffic.Kind, a.Routers["ok"] = "ok", okRouter{}
	errs = append(errs, run(a.Preflight, okSpec))
	errs = append(errs, run(a.Deploy, DeployInput{Spec: spec, Role: rollout.RoleCanary}))
	errs = append(errs, run(a.Remove, RoleInput{Spec: spec, Role: rollout.RoleCanary}))
	errs = append(errs, run(a.WaitReady, RoleInput{Spec: spec, Role: rollout.RoleCanary}))
	for i, err := range errs {
		require.Error(t, err, i)
		for _, s := range secrets {
			assert.NotContains(t, err.Error(), s, "error %d: %v", i, err)
		}
	}
	assert.Contains(t, errs[0].Error(), "router http://router:8090/?token=xxxxx said no to token xxxxx")
	assert.Contains(t, errs[1].Error(), "prometheus at http://admin:xxxxx@prom:9090")
	for _, i := range []int{1, 4} { // an unknown metric, a permanent readiness error
		var app *temporal.ApplicationError
		require.ErrorAs(t, errs[i], &app)
		assert.True(t, app.NonRetryable(), "stays permanent through redaction: %v", errs[i])
	}
}

type okRouter struct{}

func (okRouter) SetWeight(context.Context, rollout.Spec, int) error { return nil }
func (okRouter) Weight(context.Context, rollout.Spec) (int, error)  { return 0, nil }
