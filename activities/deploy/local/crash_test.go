package local

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

var errCrash = errors.New("simulated worker crash")

// processesAt lists the live processes of the test's demo binary started
// for addr, tracked or not (a held one counts: it has the binary and the
// address in its arguments).
func processesAt(t *testing.T, addr string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(demoapp+"\x00")) || !bytes.Contains(cmdline, []byte("--addr\x00"+addr+"\x00")) {
			continue
		}
		if ps, err := readProcStat(pid); err == nil && ps.state != 'Z' && ps.state != 'X' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// converged asserts that exactly one process runs for the role, that it is
// the one recorded, with no strays, and that it serves version.
func converged(t *testing.T, d *Deployer, spec rollout.Spec, role rollout.Role, addr, version string) {
	t.Helper()
	assert.Contains(t, waitReady(t, d, spec, role), "serves "+version)
	st, found, err := d.load(key(spec, role))
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, version, st.Version)
	assert.Empty(t, st.Strays)
	var pids []int
	ok := assert.Eventually(t, func() bool {
		pids = processesAt(t, addr)
		return len(pids) == 1 && pids[0] == st.PID
	}, 10*time.Second, 50*time.Millisecond, "want only the tracked pid %d at %s", st.PID, addr)
	if !ok {
		t.Logf("processes at %s: %v", addr, pids)
	}
}

// Every call is stopped at each point a worker could die and is then made
// again by a new worker (as Temporal's retry would): the role must end with
// exactly one tracked process at the desired version, and nothing else at
// its address.
func TestDeployConvergesAfterACrashAnywhere(t *testing.T) {
	v1, v2 := rollout.Release{Version: "v1"}, rollout.Release{Version: "v2"}
	cases := []struct {
		name   string
		before *rollout.Release // already running before the crashing call
		args   []string         // the crashing and the retried call's extra args
		rel    rollout.Release
		points []crashPoint
	}{
		{"first deploy", nil, nil, v1, []crashPoint{crashAfterStart, crashAfterRecord, crashAfterRelease}},
		{"upgrade (handover)", &v1, nil, v2, []crashPoint{
			crashAfterStart, crashAfterRecord, crashAfterRelease, crashAfterHealthy, crashAfterSwap, crashAfterStopPrevious,
		}},
		{"same version, new args (replacement)", &v1, []string{"--latency", "1ms"}, v1, []crashPoint{
			crashAfterStopPrevious, crashAfterStart, crashAfterRecord, crashAfterRelease,
		}},
	}
	for _, tc := range cases {
		for _, point := range tc.points {
			t.Run(tc.name+"/"+string(point), func(t *testing.T) {
				f := newFixture(t)
				role, addr := rollout.RoleCanary, f.spec.Deploy.Local.CanaryAddr
				first := f.deployer(t)
				if tc.before != nil {
					require.NoError(t, first.Deploy(t.Context(), f.spec, role, *tc.before))
					waitReady(t, first, f.spec, role)
				}
				spec := f.spec
				spec.Deploy.Local.Args = tc.args
				fired := 0
				first.crashAt = func(p crashPoint) error {
					if p == point {
						fired++
						return errCrash
					}
					return nil
				}
				require.ErrorIs(t, first.Deploy(t.Context(), spec, role, tc.rel), errCrash)
				require.Equal(t, 1, fired, "the call reached %s", point)

				retry, err := New(f.cfg)
				require.NoError(t, err)
				require.NoError(t, retry.Deploy(t.Context(), spec, role, tc.rel), "the retry after a crash at %s", point)
				converged(t, retry, spec, role, addr, tc.rel.Version)
			})
		}
	}
}

func TestRemoveConvergesAfterACrash(t *testing.T) {
	for _, point := range []crashPoint{crashAfterRemoveStop} {
		t.Run(string(point), func(t *testing.T) {
			f := newFixture(t)
			role, addr := rollout.RoleCanary, f.spec.Deploy.Local.CanaryAddr
			first := f.deployer(t)
			require.NoError(t, first.Deploy(t.Context(), f.spec, role, rollout.Release{Version: "v1"}))
			waitReady(t, first, f.spec, role)
			first.crashAt = func(p crashPoint) error {
				if p == point {
					return errCrash
				}
				return nil
			}
			require.ErrorIs(t, first.Remove(t.Context(), f.spec, role), errCrash)

			retry, err := New(f.cfg)
			require.NoError(t, err)
			require.NoError(t, retry.Remove(t.Context(), f.spec, role))
			assert.Eventually(t, func() bool { return len(processesAt(t, addr)) == 0 }, 10*time.Second, 50*time.Millisecond)
			_, found, err := retry.load(key(f.spec, role))
			require.NoError(t, err)
			assert.False(t, found)
		})
	}
}

// A Remove after a crashed upgrade stops both halves of the handover.
func TestRemoveAfterACrashedHandoverStopsBothProcesses(t *testing.T) {
	f := newFixture(t)
	role, addr := rollout.RoleCanary, f.spec.Deploy.Local.CanaryAddr
	first := f.deployer(t)
	require.NoError(t, first.Deploy(t.Context(), f.spec, role, rollout.Release{Version: "v1"}))
	waitReady(t, first, f.spec, role)
	first.crashAt = func(p crashPoint) error {
		if p == crashAfterHealthy {
			return errCrash
		}
		return nil
	}
	require.ErrorIs(t, first.Deploy(t.Context(), f.spec, role, rollout.Release{Version: "v2"}), errCrash)
	require.Len(t, processesAt(t, addr), 2, "v1 and v2 both serve when the worker dies")

	retry, err := New(f.cfg)
	require.NoError(t, err)
	require.NoError(t, retry.Remove(t.Context(), f.spec, role))
	assert.Eventually(t, func() bool { return len(processesAt(t, addr)) == 0 }, 10*time.Second, 50*time.Millisecond)
}

// A process that is started but never recorded must never listen: it exits
// when its deployer goes away without giving it the go-ahead.
func TestUnrecordedProcessNeverServes(t *testing.T) {
	f := newFixture(t)
	d := f.deployer(t)
	addr := f.spec.Deploy.Local.CanaryAddr
	d.crashAt = func(p crashPoint) error {
		if p == crashAfterStart {
			return errCrash
		}
		return nil
	}
	require.ErrorIs(t, d.Deploy(t.Context(), f.spec, rollout.RoleCanary, rollout.Release{Version: "v1"}), errCrash)
	assert.Eventually(t, func() bool { return len(processesAt(t, addr)) == 0 }, 5*time.Second, 20*time.Millisecond)
	_, err := d.health(t.Context(), addr)
	assert.Error(t, err, "nothing answers at the address")
	// The held wrapper notices the closed go-ahead pipe and says so as it
	// exits; nothing listens at the address meanwhile, so wait for its word.
	logPath := filepath.Join(f.cfg.LogDir, key(f.spec, rollout.RoleCanary)+".log")
	assert.Eventually(t, func() bool {
		logs, err := os.ReadFile(logPath)
		return err == nil && strings.Contains(string(logs), "not started")
	}, 5*time.Second, 20*time.Millisecond, "the unrecorded process exits without serving")
}
