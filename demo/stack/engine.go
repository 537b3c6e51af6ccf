// Package stack assembles the embedded default on one machine: a real
// Temporal dev server and a real worker process (the engine), and per
// application a stable demo service, the local router, a real Prometheus
// scraping them, and steady load. `make demo` and the end-to-end tests both
// run on it, so the demo is exactly what is tested.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"

	deploylocal "github.com/canaryflow/canaryflow/activities/deploy/local"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/internal/devstack"
)

// EngineOptions say where things are and which ports to pin.
type EngineOptions struct {
	// ToolsDir holds temporal and prometheus; empty means devstack.BinDir().
	ToolsDir string
	// BinDir holds worker, demoapp and router.
	BinDir string
	// WorkDir receives state, logs and incident reports.
	WorkDir string
	// TemporalPort and UIPort pin the dev server (the demo uses 7233/8233); 0 picks free ports.
	TemporalPort, UIPort int
	// Log receives the worker's output; nil writes it to WorkDir/worker.log.
	Log io.Writer
	// TemporalDBFile, when set, keeps the dev server's state in this file
	// instead of memory, so RestartTemporal brings the rollouts back (fault tests).
	TemporalDBFile string
	// WorkerArgs are added to the worker's command line, for what the stack
	// does not configure itself (--slack-token and --slack-api-url, say).
	WorkerArgs []string
}

// Engine is the Temporal dev server plus one worker process serving the
// local, prometheus and log providers.
type Engine struct {
	Temporal *devstack.Temporal
	Client   client.Client
	opts     EngineOptions
	worker   *devstack.Process
	logFile  *os.File
	// deployer shares the worker's state directory, so the stack can start
	// stable and clean up whatever the worker started.
	deployer *deploylocal.Deployer
}

// StartEngine starts the dev server and the worker and connects a client.
func StartEngine(ctx context.Context, o EngineOptions) (e *Engine, err error) {
	if o.WorkDir == "" || o.BinDir == "" {
		return nil, errors.New("stack: BinDir and WorkDir are required")
	}
	if o.WorkDir, err = filepath.Abs(o.WorkDir); err != nil {
		return nil, fmt.Errorf("stack: resolving work dir: %w", err)
	}
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("stack: creating work dir: %w", err)
	}
	e = &Engine{opts: o}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	e.deployer, err = deploylocal.New(deploylocal.Config{
		Binary: filepath.Join(o.BinDir, "demoapp"), StateDir: e.path("state"), LogDir: e.path("logs"),
	})
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	e.Temporal, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{
		BinDir: o.ToolsDir, Port: o.TemporalPort, UIPort: o.UIPort, DBFile: o.TemporalDBFile,
	})
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	if e.Client, err = control.Dial(ctx, e.Temporal.Address(), e.Temporal.Namespace()); err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	if err := e.StartWorker(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Engine) path(name string) string { return filepath.Join(e.opts.WorkDir, name) }

// Options are the options the engine runs with (WorkDir made absolute), so
// a test can start another engine from the same binaries.
func (e *Engine) Options() EngineOptions { return e.opts }

// RestartTemporal stops the dev server (SIGKILL when crash, else SIGTERM)
// and starts it again on the same ports; the worker and Client reconnect on
// their own. Rollouts survive it only with TemporalDBFile set.
func (e *Engine) RestartTemporal(ctx context.Context, crash bool) error {
	if err := e.Temporal.Restart(ctx, crash); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	return nil
}

// IncidentDir is where the worker writes rollback incident reports.
func (e *Engine) IncidentDir() string { return e.path("incidents") }

// StartWorker starts the worker process (again, after StopWorker).
func (e *Engine) StartWorker() error {
	log := e.opts.Log
	if log == nil {
		if e.logFile == nil {
			f, err := os.OpenFile(e.path("worker.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return fmt.Errorf("stack: opening worker log: %w", err)
			}
			e.logFile = f
		}
		log = e.logFile
	}
	args := []string{
		"--address", e.Temporal.Address(), "--temporal-namespace", e.Temporal.Namespace(),
		"--demo-binary", filepath.Join(e.opts.BinDir, "demoapp"),
		"--state-dir", e.opts.WorkDir, "--incident-dir", e.IncidentDir(),
		// The stack's Prometheus scrapes every ScrapeInterval.
		"--scrape-interval", ScrapeInterval.String(),
	}
	p, err := devstack.StartProcess("worker", filepath.Join(e.opts.BinDir, "worker"), append(args, e.opts.WorkerArgs...), log)
	if err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	e.worker = p
	return nil
}

// StopWorker kills the worker, as a crash or a redeploy would.
func (e *Engine) StopWorker() error {
	if e.worker == nil {
		return nil
	}
	err := e.worker.Stop()
	e.worker = nil
	return err
}

// KillWorker SIGKILLs the worker mid-flight: no graceful stop, no cleanup.
func (e *Engine) KillWorker() {
	if e.worker != nil {
		e.worker.Kill()
		e.worker = nil
	}
}

// WorkerLog returns the worker's recent output, for failure reports.
func (e *Engine) WorkerLog() string {
	if e.worker == nil {
		return ""
	}
	return e.worker.LogTail()
}

// Stop stops the worker and the dev server. Apps must be stopped first.
func (e *Engine) Stop() {
	_ = e.StopWorker()
	if e.Client != nil {
		e.Client.Close()
	}
	if e.Temporal != nil {
		_ = e.Temporal.Stop()
	}
	if e.logFile != nil {
		_ = e.logFile.Close()
	}
}

// waitFor polls cond every 100 ms until it holds or ctx ends.
func waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s (last: %v): %w", what, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
