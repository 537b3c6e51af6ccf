package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	trafficmem "github.com/canaryflow/canaryflow/activities/traffic/memory"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/memengine"
	"github.com/canaryflow/canaryflow/rollout"
)

// TestMain keeps the SDK's logs to warnings so test output stays readable.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}

// server is a real Temporal dev server with a worker in this process that
// runs rollouts on in-memory providers, so CLI commands act on real
// workflows exactly as they would in production.
type server struct {
	srv    *devstack.Temporal
	c      client.Client
	router *stuckRouter
	dir    string
}

func startServer(t *testing.T, metrics *metricsmem.Metrics, stuckApps ...string) *server {
	t.Helper()
	m := memengine.New(t)
	s := &server{srv: m.Server, c: m.Client, router: &stuckRouter{Router: m.Router, stuck: map[string]*atomic.Bool{}}, dir: t.TempDir()}
	for _, app := range stuckApps {
		s.router.stuck[app] = &atomic.Bool{}
		s.router.stuck[app].Store(true)
	}
	m.Activities.Routers[memengine.Kind] = s.router
	if metrics != nil {
		m.Activities.Metrics[memengine.Kind] = metrics
	}
	m.StartWorker(t, nil)
	return s
}

// cli runs one command line in process, against the server, and returns
// its exit code and what it printed.
func (s *server) cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = execute(ctx, append(args, "--address", s.srv.Address(), "--temporal-namespace", s.srv.Namespace()), &out, &errOut)
	return code, out.String(), errOut.String()
}

// ok runs a command line that must succeed and returns its output.
func (s *server) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := s.cli(t, args...)
	require.Equal(t, exitOK, code, "%v: stdout %s\nstderr %s", args, out, errOut)
	return out
}

// spec writes a spec file for app on memory providers, measured every second.
func (s *server) spec(t *testing.T, app, steps string) string {
	t.Helper()
	path := filepath.Join(s.dir, app+".yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `version: canaryflow/v1
app: %s
namespace: cli
stable: {version: v1}
canary: {version: v2}
deploy: {kind: memory}
traffic: {kind: memory}
metrics: {kind: memory}
smoke: {skip: true}
analysis: {interval: 1s}
steps:
%s`, app, steps), 0o644))
	return path
}

// waitFor polls the status until ok holds.
func (s *server) waitFor(t *testing.T, id, what string, ok func(rollout.Status) bool) rollout.Status {
	t.Helper()
	var last rollout.Status
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		st, err := control.Status(context.Background(), s.c, id)
		if !assert.NoError(ct, err) {
			return
		}
		last = st
		assert.True(ct, ok(st), "waiting for %s; last: phase %s step %d weight %d", what, st.Phase, st.Step, st.Weight)
	}, 60*time.Second, 100*time.Millisecond)
	return last
}

// stuckRouter refuses weight 0 for the apps marked stuck once their canary
// is deployed, like a router answering 409 forever: their rollback fails.
type stuckRouter struct {
	*trafficmem.Router
	stuck map[string]*atomic.Bool // set before the worker starts; read only after
}

func (r *stuckRouter) SetWeight(ctx context.Context, spec rollout.Spec, w int) error {
	if b, ok := r.stuck[spec.App]; ok && w == 0 && b.Load() {
		if cur, _ := r.Weight(ctx, spec); cur > 0 {
			return fmt.Errorf("409 conflict on %s: %w", spec.App, rollout.ErrPermanent)
		}
	}
	return r.Router.SetWeight(ctx, spec, w)
}

// lines returns the non-empty lines of out.
func lines(out string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			ls = append(ls, l)
		}
	}
	return ls
}
