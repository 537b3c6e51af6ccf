package k8s

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/rollout"
)

// syncBuffer collects a scenario's screen for the test log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildBinaries builds the worker, demoapp and router fresh, so a stale
// bin/ is never what is tested.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/canaryflow/canaryflow/worker",
		"github.com/canaryflow/canaryflow/demo/cmd/demoapp",
		"github.com/canaryflow/canaryflow/demo/cmd/router")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Run(), "building the binaries")
	return dir
}

// TestDemoK8sScenarios runs what `make demo-k8s` runs, both scenarios side
// by side on one control plane, Temporal and worker (each in its own
// namespace), with shorter holds: the good one is promoted, the bad one
// rolled back, and each ends with the HTTPRoute at canary weight 0 and the
// stable Deployment on the image it should run.
func TestDemoK8sScenarios(t *testing.T) {
	bin := buildBinaries(t)
	tools, err := devstack.BinDir()
	require.NoError(t, err)
	chart, err := filepath.Abs(filepath.Join("..", "..", "deploy", "charts", "app"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)

	env, err := StartEnv(ctx, EnvOptions{ToolsDir: tools, BinDir: bin, WorkDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log tail:\n%s", env.WorkerLog())
		}
		env.Stop()
	})

	for _, c := range []struct {
		app  string
		bad  bool
		want rollout.Phase
	}{
		{"good", false, rollout.PhasePromoted},
		{"bad", true, rollout.PhaseRolledBack},
	} {
		t.Run(c.app, func(t *testing.T) {
			t.Parallel()
			out := &syncBuffer{}
			res, err := env.Run(ctx, ScenarioOptions{App: c.app, Bad: c.bad, Chart: chart, Hold: 10 * time.Second, RPS: 20, Out: out})
			t.Logf("what it printed:\n%s", out)
			require.NoError(t, err)
			require.Equal(t, c.want, res.Status.Phase, res.Status.Reason)

			spec := rollout.Spec{App: c.app, Namespace: c.app}
			route, err := env.Gateway.GatewayV1().HTTPRoutes(c.app).Get(ctx, spec.RouteName(), metav1.GetOptions{})
			require.NoError(t, err)
			v := viewRoute(route, spec.RoleObject(rollout.RoleStable), spec.RoleObject(rollout.RoleCanary))
			assert.Zero(t, v.Weight, "the HTTPRoute ends at canary weight 0: %s", v)
			assert.Equal(t, []string{spec.RoleObject(rollout.RoleStable) + "=100"}, v.Refs, "only stable is left in the HTTPRoute")

			stable, err := env.Kube.Client().AppsV1().Deployments(c.app).Get(ctx, spec.RoleObject(rollout.RoleStable), metav1.GetOptions{})
			require.NoError(t, err)
			wantImage := "registry.local/" + c.app + ":v1"
			if !c.bad {
				wantImage = "registry.local/" + c.app + ":v2"
			}
			assert.Equal(t, wantImage, stable.Spec.Template.Spec.Containers[0].Image)
			_, err = env.Kube.Client().AppsV1().Deployments(c.app).Get(ctx, spec.RoleObject(rollout.RoleCanary), metav1.GetOptions{})
			assert.True(t, apierrors.IsNotFound(err), "no canary Deployment is left: %v", err)

			// The local router followed the HTTPRoute through every weight.
			require.NotEmpty(t, res.Weights)
			assert.Zero(t, res.Weights[len(res.Weights)-1])
			if c.bad {
				assert.Contains(t, res.Weights, 25)
				assert.Positive(t, res.FaultToZero, "the time from the fault to weight 0 was measured")
				assert.Regexp(t, `error-(rate|increase) .*→ Failed`, res.Status.Reason, "the default judgement names the rule")
			} else {
				i10, i25, i50 := slices.Index(res.Weights, 10), slices.Index(res.Weights, 25), slices.Index(res.Weights, 50)
				assert.True(t, 0 <= i10 && i10 < i25 && i25 < i50, "weights 10 → 25 → 50 in order: %v", res.Weights)
			}
		})
	}
}
