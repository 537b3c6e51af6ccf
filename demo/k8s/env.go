// Package k8s is what `make demo-k8s` drives: the same canary rollout as
// `make demo`, but deployed by the Helm deployer (the app chart installed on
// the project's own Kubernetes test control plane) and routed by the
// Gateway API router (or the NGINX one), with a real Temporal dev server
// and a real worker process.
//
// The pods are simulated by kwok and serve nothing, so requests and metrics
// come from local demo processes standing in for them: stable and canary
// behind the local router, with load, and Prometheus scraping them. A
// watcher keeps the local router's weight equal to the weight on the
// HTTPRoute (or the canary Ingress) and prints the objects as they change.
package k8s

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/client"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/kube"
)

// EnvOptions say where the binaries are, where to write, and which ports
// to prefer.
type EnvOptions struct {
	// ToolsDir holds temporal, prometheus and the control plane's binaries
	// (`make tools`); BinDir holds worker, demoapp and router (`make build`).
	ToolsDir, BinDir string
	// WorkDir receives the worker's log, state and incident reports.
	WorkDir string
	// TemporalPort and UIPort pin the dev server; 0 picks free ports.
	TemporalPort, UIPort int
}

// Env is everything a rollout runs on: the Kubernetes test control plane
// (with the Gateway API CRDs), the Temporal dev server, and a worker
// process serving the helm, gatewayapi, nginx, prometheus and log kinds
// against that control plane. Several scenarios may run on one Env, each in
// its own namespace.
type Env struct {
	Kube     *kube.ControlPlane
	Temporal *devstack.Temporal
	Client   client.Client
	Gateway  gwclient.Interface

	opts    EnvOptions
	worker  *devstack.Process
	workLog *os.File
}

// StartEnv starts the control plane and the dev server side by side (each
// takes seconds to tens of seconds on a small machine), then the worker.
// ctx bounds only the start.
func StartEnv(ctx context.Context, o EnvOptions) (e *Env, err error) {
	if o.ToolsDir == "" || o.BinDir == "" || o.WorkDir == "" {
		return nil, errors.New("demo-k8s: ToolsDir, BinDir and WorkDir are required")
	}
	if o.WorkDir, err = filepath.Abs(o.WorkDir); err != nil {
		return nil, fmt.Errorf("resolving the work dir: %w", err)
	}
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the work dir: %w", err)
	}
	e = &Env{opts: o}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()

	type started struct {
		cp  *kube.ControlPlane
		err error
	}
	kubeDone := make(chan started, 1)
	go func() {
		cp, err := kube.Start(ctx, kube.Options{BinDir: o.ToolsDir})
		if err != nil {
			kubeDone <- started{err: fmt.Errorf("starting the Kubernetes test control plane: %w", err)}
			return
		}
		if err := cp.InstallGatewayAPI(ctx); err != nil {
			kubeDone <- started{cp: cp, err: fmt.Errorf("installing the Gateway API CRDs: %w", err)}
			return
		}
		kubeDone <- started{cp: cp}
	}()
	var tErr error
	e.Temporal, tErr = devstack.StartTemporal(ctx, devstack.TemporalOptions{BinDir: o.ToolsDir, Port: o.TemporalPort, UIPort: o.UIPort})
	k := <-kubeDone
	e.Kube = k.cp
	if err := errors.Join(k.err, tErr); err != nil {
		return nil, err
	}

	if e.Gateway, err = gwclient.NewForConfig(e.Kube.RESTConfig()); err != nil {
		return nil, fmt.Errorf("building the Gateway API client: %w", err)
	}
	if e.Client, err = control.Dial(ctx, e.Temporal.Address(), e.Temporal.Namespace()); err != nil {
		return nil, fmt.Errorf("connecting to Temporal: %w", err)
	}
	if e.workLog, err = os.OpenFile(filepath.Join(o.WorkDir, "worker.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644); err != nil {
		return nil, fmt.Errorf("opening the worker log: %w", err)
	}
	// The production worker binary, pointed at the control plane by
	// kubeconfig as it would be at any cluster.
	e.worker, err = devstack.StartProcess("worker", filepath.Join(o.BinDir, "worker"), []string{
		"--address", e.Temporal.Address(), "--temporal-namespace", e.Temporal.Namespace(),
		"--kubeconfig", e.Kube.KubeconfigPath(),
		"--state-dir", o.WorkDir, "--incident-dir", e.IncidentDir(),
	}, e.workLog)
	if err != nil {
		return nil, fmt.Errorf("starting the worker: %w", err)
	}
	return e, nil
}

// IncidentDir is where the worker writes rollback incident reports.
func (e *Env) IncidentDir() string { return filepath.Join(e.opts.WorkDir, "incidents") }

// WorkerLogPath is the worker's log file.
func (e *Env) WorkerLogPath() string { return filepath.Join(e.opts.WorkDir, "worker.log") }

// WorkerLog returns the worker's recent output, for failure reports.
func (e *Env) WorkerLog() string {
	if e.worker == nil {
		return ""
	}
	return e.worker.LogTail()
}

// Stop stops the worker, then the dev server and the control plane. It is
// safe on a partly started Env.
func (e *Env) Stop() {
	if e.worker != nil {
		_ = e.worker.Stop()
	}
	if e.Client != nil {
		e.Client.Close()
	}
	if e.Temporal != nil {
		_ = e.Temporal.Stop()
	}
	if e.Kube != nil {
		_ = e.Kube.Stop()
	}
	if e.workLog != nil {
		_ = e.workLog.Close()
	}
}
