package local

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// lookAlike returns a copy of spec for namespace/app with addresses of its own.
func lookAlike(t *testing.T, spec rollout.Spec, ns, app string) rollout.Spec {
	spec.Namespace, spec.App = ns, app
	spec.Deploy.Local = &rollout.LocalDeploy{StableAddr: freeAddr(t), CanaryAddr: freeAddr(t)}
	return spec
}

// team-a/web and team/a-web once shared a state file: deploying the second
// replaced the first's process, and removing the first stopped the second's.
func TestLookAlikeAppsKeepTheirOwnProcesses(t *testing.T) {
	f := newFixture(t)
	a := lookAlike(t, f.spec, "team-a", "web")
	b := lookAlike(t, f.spec, "team", "a-web")
	d, err := New(f.cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = d.Remove(context.Background(), a, rollout.RoleCanary)
		_ = d.Remove(context.Background(), b, rollout.RoleCanary)
	})
	ctx := t.Context()
	assert.NotEqual(t, key(a, rollout.RoleCanary), key(b, rollout.RoleCanary))

	require.NoError(t, d.Deploy(ctx, a, rollout.RoleCanary, rollout.Release{Version: "v1"}))
	waitReady(t, d, a, rollout.RoleCanary)
	pidA := pidOf(t, d, a, rollout.RoleCanary)
	require.NoError(t, d.Deploy(ctx, b, rollout.RoleCanary, rollout.Release{Version: "v1"}))
	waitReady(t, d, b, rollout.RoleCanary)
	pidB := pidOf(t, d, b, rollout.RoleCanary)
	assert.NotEqual(t, pidA, pidB)
	assert.True(t, alive(state{PID: pidA}), "deploying team/a-web left team-a/web running")

	require.NoError(t, d.Remove(ctx, a, rollout.RoleCanary))
	assert.Eventually(t, func() bool { return gone(pidA) }, 5*time.Second, 20*time.Millisecond)
	ready, detail, err := d.Ready(ctx, b, rollout.RoleCanary)
	require.NoError(t, err)
	assert.True(t, ready, "removing team-a/web leaves team/a-web serving: %s", detail)
	assert.True(t, alive(state{PID: pidB}))
}

// writeLegacy moves the role's state to the name a worker before escaped
// keys would have used, as if that worker had deployed it.
func writeLegacy(t *testing.T, d *Deployer, spec rollout.Spec, role rollout.Role, legacy string) {
	t.Helper()
	require.NoError(t, os.Rename(d.statePath(key(spec, role)), d.statePath(legacy)))
}

func TestLegacyStateOfAnUnambiguousAppIsAdopted(t *testing.T) {
	f := newFixture(t)
	d := f.deployer(t)
	ctx := t.Context()
	require.NoError(t, d.Deploy(ctx, f.spec, rollout.RoleCanary, rollout.Release{Version: "v1"}))
	waitReady(t, d, f.spec, rollout.RoleCanary)
	pid := pidOf(t, d, f.spec, rollout.RoleCanary)
	writeLegacy(t, d, f.spec, rollout.RoleCanary, "demo-shop-canary")

	upgraded, err := New(f.cfg)
	require.NoError(t, err)
	ready, detail, err := upgraded.Ready(ctx, f.spec, rollout.RoleCanary)
	require.NoError(t, err)
	assert.True(t, ready, detail)
	require.NoError(t, upgraded.Deploy(ctx, f.spec, rollout.RoleCanary, rollout.Release{Version: "v1"}))
	assert.Equal(t, pid, pidOf(t, upgraded, f.spec, rollout.RoleCanary), "the running process is adopted, not restarted")
	_, err = os.Stat(upgraded.statePath("demo-shop-canary"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the legacy file is moved, not copied")
}

// A legacy name with a dash may be another app's (team-a-web-canary is
// team-a/web's or team/a-web's): it is never adopted, and its process, if
// running, is refused as not ours rather than stopped or reported ready.
func TestAmbiguousLegacyStateIsLeftAlone(t *testing.T) {
	f := newFixture(t)
	spec := lookAlike(t, f.spec, "team", "a-web")
	d, err := New(f.cfg)
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, d.Deploy(ctx, spec, rollout.RoleCanary, rollout.Release{Version: "v1"}))
	waitReady(t, d, spec, rollout.RoleCanary)
	pid := pidOf(t, d, spec, rollout.RoleCanary)
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	writeLegacy(t, d, spec, rollout.RoleCanary, "team-a-web-canary")

	other := lookAlike(t, f.spec, "team-a", "web")
	other.Deploy.Local = spec.Deploy.Local
	for _, s := range []rollout.Spec{spec, other} {
		ready, detail, err := d.Ready(ctx, s, rollout.RoleCanary)
		require.NoError(t, err)
		assert.False(t, ready, detail)
		assert.Contains(t, detail, "not deployed")
		err = d.Deploy(ctx, s, rollout.RoleCanary, rollout.Release{Version: "v2"})
		require.ErrorIs(t, err, rollout.ErrPermanent)
		assert.Contains(t, err.Error(), "did not start")
		require.NoError(t, d.Remove(ctx, s, rollout.RoleCanary))
		assert.True(t, alive(state{PID: pid}), "a process that may be another app's is not stopped")
	}
	_, err = os.Stat(d.statePath("team-a-web-canary"))
	assert.NoError(t, err, "the legacy file stays for a person to resolve")
}
