package devstack

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBinDirFindsTheModuleRoot(t *testing.T) {
	t.Setenv(EnvBin, "")
	dir, err := BinDir()
	require.NoError(t, err)
	root := filepath.Dir(dir)
	mod, err := modulePath(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	assert.Equal(t, ModulePath, mod)
	assert.Equal(t, "bin", filepath.Base(dir))

	// A nested module (tools/temporal) is not mistaken for the root.
	nested := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(nested, "go.mod"), []byte("module "+ModulePath+"/tools/x\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(nested, "sub"), 0o755))
	_, err = moduleRoot(filepath.Join(nested, "sub"))
	assert.ErrorContains(t, err, "no go.mod for module")
}

func TestBinDirEnvOverride(t *testing.T) {
	t.Setenv(EnvBin, "/opt/canaryflow/bin")
	dir, err := BinDir()
	require.NoError(t, err)
	assert.Equal(t, "/opt/canaryflow/bin", dir)
}

func TestBinaryRejectsMissingAndNonExecutable(t *testing.T) {
	dir := t.TempDir()
	_, err := Binary(dir, "prometheus")
	require.ErrorIs(t, err, ErrMissingBinary)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus"), []byte("x"), 0o644))
	_, err = Binary(dir, "prometheus")
	require.ErrorIs(t, err, ErrMissingBinary)
	require.NoError(t, os.Chmod(filepath.Join(dir, "prometheus"), 0o755))
	path, err := Binary(dir, "prometheus")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "prometheus"), path)
}

func TestPrometheusConfig(t *testing.T) {
	cfg, err := prometheusConfig(PrometheusOptions{
		ScrapeInterval: 1500 * time.Millisecond,
		Jobs:           map[string][]string{"b": {"127.0.0.1:2"}, "a": {"127.0.0.1:1", "localhost:3"}},
		JobLabels:      map[string]map[string]string{"a": {"app": "demo"}},
	})
	require.NoError(t, err)
	want := `global:
  evaluation_interval: 1s500ms
  scrape_interval: 1s500ms
  scrape_timeout: 1s500ms
scrape_configs:
- job_name: a
  static_configs:
  - labels:
      app: demo
    targets:
    - 127.0.0.1:1
    - localhost:3
- job_name: b
  static_configs:
  - targets:
    - 127.0.0.1:2
`
	assert.Equal(t, want, string(cfg))

	for name, opts := range map[string]PrometheusOptions{
		"bad target":      {ScrapeInterval: time.Second, Jobs: map[string][]string{"a": {"nope"}}},
		"no targets":      {ScrapeInterval: time.Second, Jobs: map[string][]string{"a": nil}},
		"bad label":       {ScrapeInterval: time.Second, Jobs: map[string][]string{"a": {"h:1"}}, JobLabels: map[string]map[string]string{"a": {"1x": "v"}}},
		"labels, no job":  {ScrapeInterval: time.Second, JobLabels: map[string]map[string]string{"a": {"x": "v"}}},
		"sub-ms interval": {ScrapeInterval: time.Microsecond},
	} {
		_, err := prometheusConfig(opts)
		assert.Error(t, err, name)
	}
}

func TestStopKillsTheWholeProcessGroup(t *testing.T) {
	// The shell starts a grandchild and reports its pid; Stop must take both.
	p, err := startProcess("sh", "/bin/sh", []string{"-c", "sleep 60 & echo $!; wait"}, nil)
	require.NoError(t, err)
	var child int
	require.Eventually(t, func() bool {
		child, err = strconv.Atoi(strings.TrimSpace(p.tail.String()))
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, p.stop(5*time.Second))
	require.True(t, p.exited())
	require.Eventually(t, func() bool { return gone(child) }, 5*time.Second, 20*time.Millisecond,
		"grandchild %d survived Stop", child)
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	p, err := startProcess("sh", "/bin/sh", []string{"-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(p.tail.String(), "ready") }, 5*time.Second, 10*time.Millisecond)
	start := time.Now()
	require.NoError(t, p.stop(200*time.Millisecond))
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.True(t, p.exited())
}

func TestStopReportsACrash(t *testing.T) {
	p, err := startProcess("crasher", "/bin/sh", []string{"-c", "echo boom >&2; exit 3"}, nil)
	require.NoError(t, err)
	<-p.done
	err = p.stop(time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "boom")
	assert.Contains(t, err.Error(), "exit status 3")
	assert.NoError(t, p.stop(time.Second), "a second stop is a no-op")
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := newTailBuffer(8)
	_, _ = b.Write([]byte("0123456789"))
	_, _ = b.Write([]byte("ab"))
	assert.Equal(t, "456789ab", b.String())
}

// gone reports whether pid no longer runs (absent, or a zombie awaiting a
// reaper that is not ours: in containers pid 1 may not reap).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}
