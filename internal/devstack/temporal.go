//go:build unix

package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/canaryflow/canaryflow/rollout"
)

// TemporalOptions configure StartTemporal. The zero value is what tests
// want: free ports, the default namespace, output kept only for errors.
type TemporalOptions struct {
	// BinDir holds the temporal binary; empty means BinDir().
	BinDir string
	// Port is the frontend gRPC port; 0 picks a free one. The demo pins 7233
	// so the temporal CLI and the UI's links work without flags.
	Port int
	// UIPort is the Web UI port; 0 picks a free one (the demo pins 8233).
	UIPort int
	// Namespace is created at start and checked for readiness; empty means "default".
	Namespace string
	// Log receives the server's output; nil keeps only the tail (see LogTail).
	Log io.Writer
	// StartTimeout bounds waiting for the server to accept clients; 0 means 60 s.
	StartTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL; 0 means 10 s.
	StopGrace time.Duration
	// DBFile, when set, keeps the server's state in this SQLite file
	// (start-dev's --db-filename) instead of in memory, so a server stopped
	// and started again (Restart) still holds every workflow: what fault
	// tests need to restart it under running rollouts.
	DBFile string
	// DynamicConfig sets server settings (start-dev's --dynamic-config-value
	// key=JSON value), for a benchmark that must size the single-shard dev
	// server's per-shard limits like a cluster's; nil keeps the defaults.
	DynamicConfig map[string]string
}

// Temporal is a running `temporal server start-dev`. With the default
// in-memory database everything it holds is lost on Stop, which is what most
// tests want; with TemporalOptions.DBFile it survives Restart.
type Temporal struct {
	mu        sync.Mutex // guards proc, which Restart replaces
	proc      *process
	bin       string
	args      []string
	log       io.Writer
	addr      string
	uiURL     string
	namespace string
	grace     time.Duration
}

// startAttempts bounds retries when a free port is taken before the server binds it.
const startAttempts = 3

// StartTemporal starts the Temporal dev server and returns once a client can
// connect, pass a health check and see the namespace. ctx bounds only the
// start; the server runs until Stop.
func StartTemporal(ctx context.Context, opts TemporalOptions) (*Temporal, error) {
	bin, err := Binary(opts.BinDir, "temporal")
	if err != nil {
		return nil, fmt.Errorf("starting temporal: %w", err)
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		t, err := startTemporalOnce(ctx, bin, opts)
		if err == nil {
			return t, nil
		}
		var pe *portError
		if !errors.As(err, &pe) || attempt == startAttempts || (opts.Port != 0 && opts.UIPort != 0) {
			return nil, err
		}
		slog.Debug("devstack: temporal port taken, retrying", "attempt", attempt, "err", err)
	}
}

func startTemporalOnce(ctx context.Context, bin string, opts TemporalOptions) (*Temporal, error) {
	port, uiPort := opts.Port, opts.UIPort
	var err error
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if uiPort == 0 {
		if uiPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	args := []string{
		"server", "start-dev",
		"--ip", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--ui-port", strconv.Itoa(uiPort),
		"--log-level", "warn",
		"--namespace", opts.Namespace,
	}
	if opts.DBFile != "" {
		args = append(args, "--db-filename", opts.DBFile)
	}
	for _, key := range slices.Sorted(maps.Keys(opts.DynamicConfig)) {
		args = append(args, "--dynamic-config-value", key+"="+opts.DynamicConfig[key])
	}
	// The rollouts' search attributes, registered as a real cluster would
	// have them (see rollout.SearchAttrTypes); sorted so the command line
	// is the same every time.
	for _, name := range slices.Sorted(maps.Keys(rollout.SearchAttrTypes)) {
		args = append(args, "--search-attribute", name+"="+rollout.SearchAttrTypes[name])
	}
	p, err := startProcess("temporal", bin, args, opts.Log)
	if err != nil {
		return nil, err
	}
	t := &Temporal{
		proc:      p,
		bin:       bin,
		args:      args,
		log:       opts.Log,
		addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		uiURL:     "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(uiPort)),
		namespace: opts.Namespace,
		grace:     opts.StopGrace,
	}
	if err := t.waitReady(ctx); err != nil {
		return nil, p.failedStart(err)
	}
	return t, nil
}

// waitReady polls until a client connects and the namespace is registered:
// the frontend listens before start-dev has created its namespaces.
func (t *Temporal) waitReady(ctx context.Context) error {
	logger := tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	return t.current().waitUntil(ctx, "temporal at "+t.addr+" to accept clients", 200*time.Millisecond, func(ctx context.Context) error {
		return t.probe(ctx, logger)
	})
}

func (t *Temporal) probe(ctx context.Context, logger tlog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: t.addr, Namespace: t.namespace, Logger: logger})
	if err != nil {
		return fmt.Errorf("dialing: %w", err)
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	req := &workflowservice.DescribeNamespaceRequest{Namespace: t.namespace}
	if _, err := c.WorkflowService().DescribeNamespace(ctx, req); err != nil {
		return fmt.Errorf("describing namespace %q: %w", t.namespace, err)
	}
	return nil
}

// Address is the frontend's host:port, for client.Options.HostPort and the
// temporal CLI's --address.
func (t *Temporal) Address() string { return t.addr }

// UIURL is the Web UI's base URL, for people watching a demo.
func (t *Temporal) UIURL() string { return t.uiURL }

// Namespace is the namespace the server was started with and checked for.
func (t *Temporal) Namespace() string { return t.namespace }

// LogTail returns the server's most recent output, for failure reports.
func (t *Temporal) LogTail() string { return t.current().tail.String() }

// Pid is the running server's process ID, for benchmarks that read its CPU time.
func (t *Temporal) Pid() int { return t.current().cmd.Process.Pid }

// Stop shuts the server down and waits for it to exit. It returns an error
// if the server had crashed before Stop; calling it again is a no-op.
func (t *Temporal) Stop() error {
	if err := t.current().stop(t.grace); err != nil {
		return fmt.Errorf("stopping temporal at %s: %w", t.addr, err)
	}
	return nil
}

// Restart stops the server and starts it again on the same ports with the
// same options, returning once it accepts clients again: the outage a
// rollout must ride out when its Temporal is redeployed (crash false: SIGTERM,
// a graceful stop) or dies (crash true: SIGKILL, nothing flushed on the way
// out). Only a server started with DBFile comes back with its workflows.
// Clients and workers connected before reconnect on their own.
func (t *Temporal) Restart(ctx context.Context, crash bool) error {
	old := t.current()
	if crash {
		old.kill()
	} else if err := old.stop(t.grace); err != nil {
		return fmt.Errorf("restarting temporal at %s: %w", t.addr, err)
	}
	p, err := startProcess("temporal", t.bin, t.args, t.log)
	if err != nil {
		return fmt.Errorf("restarting temporal at %s: %w", t.addr, err)
	}
	t.mu.Lock()
	t.proc = p
	t.mu.Unlock()
	if err := t.waitReady(ctx); err != nil {
		return fmt.Errorf("restarting temporal: %w", err)
	}
	return nil
}

// current is the running server process (Restart replaces it).
func (t *Temporal) current() *process {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.proc
}

// portError marks a start that failed because a port was taken, which a
// retry with fresh free ports can fix.
type portError struct{ err error }

func (e *portError) Error() string { return "port in use: " + e.err.Error() }
func (e *portError) Unwrap() error { return e.err }
