package local

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// demoapp is the binary TestMain builds once for every test.
var demoapp string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "canaryflow-local-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating temp dir:", err)
		os.Exit(1)
	}
	demoapp = filepath.Join(dir, "demoapp")
	build := exec.Command("go", "build", "-o", demoapp, "github.com/canaryflow/canaryflow/demo/cmd/demoapp")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building demoapp:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

type fixture struct {
	cfg  Config
	spec rollout.Spec
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	return fixture{
		cfg: Config{Binary: demoapp, StateDir: filepath.Join(dir, "state"), LogDir: filepath.Join(dir, "logs"), StopGrace: 3 * time.Second},
		spec: rollout.Spec{App: "shop", Namespace: "demo", Deploy: rollout.Deploy{Kind: "local", Local: &rollout.LocalDeploy{
			StableAddr: freeAddr(t), CanaryAddr: freeAddr(t),
		}}},
	}
}

func (f fixture) deployer(t *testing.T) *Deployer {
	t.Helper()
	d, err := New(f.cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = d.Remove(ctx, f.spec, rollout.RoleStable)
		_ = d.Remove(ctx, f.spec, rollout.RoleCanary)
	})
	return d
}

func waitReady(t *testing.T, d *Deployer, spec rollout.Spec, role rollout.Role) string {
	t.Helper()
	// 30 s: on a loaded 2-core CI machine a process start can take seconds.
	deadline := time.Now().Add(30 * time.Second)
	var detail string
	for {
		ready, dt, err := d.Ready(t.Context(), spec, role)
		require.NoError(t, err)
		detail = dt
		if ready {
			return detail
		}
		if time.Now().After(deadline) {
			st, found, _ := d.load(key(spec, role))
			t.Fatalf("%s never became ready; last detail: %s; recorded: %+v (found %v, alive %v, held %v)",
				role, detail, st, found, alive(st), held(st))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pidOf(t *testing.T, d *Deployer, spec rollout.Spec, role rollout.Role) int {
	t.Helper()
	st, found, err := d.load(key(spec, role))
	require.NoError(t, err)
	require.True(t, found, "state recorded")
	return st.PID
}

// gone reports whether pid is neither running nor a zombie waiting to be reaped.
func gone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err != nil
}

func TestDeployRedeployUpgradeRemove(t *testing.T) {
	f := newFixture(t)
	d := f.deployer(t)
	ctx := t.Context()

	require.NoError(t, d.Deploy(ctx, f.spec, rollout.RoleCanary, rollout.Release{Version: "v1"}))
	detail := waitReady(t, d, f.spec, rollout.RoleCanary)
	assert.Contains(t, detail, "v1")
	pid1 := pidOf(t, d, f.spec, rollout.RoleCanary)

	require.NoError(t, d.Deploy(ctx, f.spec, rollout.RoleCanary, rollout.Release{Version: "v1"}))
	assert.Equal(t, pid1, pidOf(t, d, f.spec, rollout.RoleCanary), "same version: no restart")

	require.NoError(t, d.Deploy(ctx, f.spec, rollout.RoleCanary, rollout.Release{Version: "v2"}))
	pid2 := pidOf(t, d, f.spec, rollout.RoleCanary)
	assert.NotEqual(t, pid1, pid2, "new version: new process")
	assert.Eventually(t, func() bool { return gone(pid1) }, 5*time.Second, 20*time.Millisecond, "old process stopped and reaped")
	assert.Contains(t, waitReady(t, d, f.spec, rollout.RoleCanary), "v2")

	logs, err := os.ReadFile(filepath.Join(f.cfg.LogDir, "demo_shop_canary.log"))
	require.NoError(t, err)
	assert.Contains(t, string(logs), "--version v2")

	require.NoError(t, d.Remove(ctx, f.spec, rollout.RoleCanary))
	assert.Eventually(t, func() bool { return gone(pid2) }, 5*time.Second, 20*time.Millisecond)
	ready, detail, err := d.Ready(ctx, f.spec, rollout.RoleCanary)
	require.NoError(t, err)
	assert.False(t, ready)
	assert.Contains(t, detail, "not deployed")
	require.NoError(t, d.Remove(ctx, f.spec, rollout.RoleCanary), "removing twice succeeds")
	_, err = os.Stat(filepath.Join(f.cfg.StateDir, "demo_shop_canary.json"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestRestartedWorkerFindsItsProcesses(t *testing.T) {
	f := newFixture(t)
	first := f.deployer(t)
	ctx := t.Context()
	require.NoError(t, first.Deploy(ctx, f.spec, rollout.RoleStable, rollout.Release{Version: "v1"}))
	waitReady(t, first, f.spec, rollout.RoleStable)
	pid := pidOf(t, first, f.spec, rollout.RoleStable)

	second, err := New(f.cfg)
	require.NoError(t, err)
	ready, detail, err := second.Ready(ctx, f.spec, rollout.RoleStable)
	require.NoError(t, err)
	assert.True(t, ready, detail)
	require.NoError(t, second.Deploy(ctx, f.spec, rollout.RoleStable, rollout.Release{Version: "v1"}))
	assert.Equal(t, pid, pidOf(t, second, f.spec, rollout.RoleStable), "the running process is adopted, not restarted")

	require.NoError(t, second.Remove(ctx, f.spec, rollout.RoleStable))
	assert.Eventually(t, func() bool { return gone(pid) }, 5*time.Second, 20*time.Millisecond)
}

func TestPromotionRunsCanaryVersionAsStable(t *testing.T) {
	f := newFixture(t)
	d := f.deployer(t)
	ctx := t.Context()
	require.NoError(t, d.Deploy(ctx, f.spec, rollout.RoleStable, rollout.Release{Version: "v1"}))
	require.NoError(t, d.Deploy(ctx, f.spec, rollout.RoleCanary, rollout.Release{Version: "v2"}))
	waitReady(t, d, f.spec, rollout.RoleStable)
	waitReady(t, d, f.spec, rollout.RoleCanary)

	require.NoError(t, d.Deploy(ctx, f.spec, rollout.RoleStable, rollout.Release{Version: "v2"}))
	assert.Contains(t, waitReady(t, d, f.spec, rollout.RoleStable), "serves v2 as stable")
	require.NoError(t, d.Remove(ctx, f.spec, rollout.RoleCanary))
	ready, _, err := d.Ready(ctx, f.spec, rollout.RoleStable)
	require.NoError(t, err)
	assert.True(t, ready, "removing the canary leaves stable alone")
}

func TestAddressTakenBySomeoneElse(t *testing.T) {
	f := newFixture(t)
	d := f.deployer(t)
	ln, err := net.Listen("tcp", f.spec.Deploy.Local.CanaryAddr)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ok","version":"v9","role":"canary"}`))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	err = d.Deploy(t.Context(), f.spec, rollout.RoleCanary, rollout.Release{Version: "v2"})
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.Contains(t, err.Error(), `version "v9"`)
	assert.Contains(t, err.Error(), "did not start")
	ready, detail, err := d.Ready(t.Context(), f.spec, rollout.RoleCanary)
	require.NoError(t, err)
	assert.False(t, ready, "someone else's server is never reported ready: %s", detail)
}

func TestCrashedProcessIsReportedWithItsLog(t *testing.T) {
	f := newFixture(t)
	f.spec.Deploy.Local.Args = []string{"--no-such-flag"}
	d := f.deployer(t)
	require.NoError(t, d.Deploy(t.Context(), f.spec, rollout.RoleCanary, rollout.Release{Version: "v1"}))
	var detail string
	require.Eventually(t, func() bool {
		ready, dt, err := d.Ready(t.Context(), f.spec, rollout.RoleCanary)
		require.NoError(t, err)
		require.False(t, ready)
		detail = dt
		return strings.Contains(detail, "not running")
	}, 10*time.Second, 50*time.Millisecond)
	assert.Contains(t, detail, "no-such-flag")
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	script := filepath.Join(t.TempDir(), "stubborn")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\ntrap '' TERM\nexec sleep 600\n"), 0o755))
	f := newFixture(t)
	f.cfg.Binary = script
	f.cfg.StopGrace = 200 * time.Millisecond
	d := f.deployer(t)
	require.NoError(t, d.Deploy(t.Context(), f.spec, rollout.RoleCanary, rollout.Release{Version: "v1"}))
	pid := pidOf(t, d, f.spec, rollout.RoleCanary)
	time.Sleep(100 * time.Millisecond) // let the trap be installed

	start := time.Now()
	require.NoError(t, d.Remove(t.Context(), f.spec, rollout.RoleCanary))
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "SIGTERM was ignored for the grace period")
	assert.Eventually(t, func() bool { return gone(pid) }, 5*time.Second, 20*time.Millisecond)
}

func TestSpecErrorsArePermanent(t *testing.T) {
	f := newFixture(t)
	d := f.deployer(t)
	spec := f.spec
	spec.Deploy.Local = nil
	assert.ErrorIs(t, d.Deploy(t.Context(), spec, rollout.RoleCanary, rollout.Release{Version: "v1"}), rollout.ErrPermanent)
	spec = f.spec
	spec.Deploy.Local = &rollout.LocalDeploy{StableAddr: "127.0.0.1:1"}
	err := d.Deploy(t.Context(), spec, rollout.RoleCanary, rollout.Release{Version: "v1"})
	assert.ErrorIs(t, err, rollout.ErrPermanent)
	assert.ErrorContains(t, err, "canaryAddr")
	assert.ErrorIs(t, d.Deploy(t.Context(), f.spec, rollout.RoleCanary, rollout.Release{}), rollout.ErrPermanent)

	_, err = New(Config{Binary: filepath.Join(t.TempDir(), "missing"), StateDir: t.TempDir(), LogDir: t.TempDir()})
	assert.Error(t, err)
}
