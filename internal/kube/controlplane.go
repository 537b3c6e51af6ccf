// Package kube gives canaryflow's tests a real Kubernetes control plane:
// etcd, kube-apiserver, kube-controller-manager and kube-scheduler, with
// kwok simulating one node whose pods become Running and Ready as soon as
// they are scheduled. Everything the API server does is real (admission,
// RBAC, optimistic concurrency, watches, Deployments rolling out through
// ReplicaSets); only the kubelet and the containers are simulated.
//
// The binaries come from the repository's bin/ directory, built by
// `make kube-tools` (tools/kube/install.sh). Each component runs under
// internal/devstack's process supervisor, in its own process group, on free
// loopback ports, with its certificates, keys and data in a temporary
// directory that Stop removes.
package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/canaryflow/canaryflow/internal/devstack"
)

// Options configure Start. The zero value is what tests want.
type Options struct {
	// BinDir holds the binaries; empty means devstack.BinDir().
	BinDir string
	// Log receives every component's output; nil keeps only each one's
	// tail, for error messages and LogTail.
	Log io.Writer
	// StartTimeout bounds the whole start; 0 means 3 minutes (a cold start on
	// a busy 2-core machine takes tens of seconds).
	StartTimeout time.Duration
	// NodeName names the one simulated node; empty means "kwok-node-0".
	NodeName string
}

// ControlPlane is a running test cluster. Its methods are safe for
// concurrent use; Stop ends it.
type ControlPlane struct {
	dir        string
	kubeconfig string
	nodeName   string
	certs      *pki
	config     *rest.Config
	client     kubernetes.Interface

	components []*component // in start order; stopped in reverse

	stopOnce sync.Once
	stopErr  error
}

// component is one supervised process of the control plane.
type component struct {
	name string
	proc *devstack.Process
}

// The binaries a control plane runs, as named in bin/.
const (
	binEtcd              = "etcd"
	binAPIServer         = "kube-apiserver"
	binControllerManager = "kube-controller-manager"
	binScheduler         = "kube-scheduler"
	binKwok              = "kwok"
)

// startAttempts bounds retries when a free port is taken before a component binds it.
const startAttempts = 3

// Start runs a control plane and returns once a Deployment can roll out on
// it: the API server is ready, the controllers and the scheduler are
// healthy, the fake node is Ready and the default ServiceAccount exists (the
// API server refuses pods until it does). ctx bounds only the start.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	if opts.NodeName == "" {
		opts.NodeName = "kwok-node-0"
	}
	bins, err := binaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	stages, err := kwokStages(bins[binKwok])
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		c, err := startOnce(ctx, bins, stages, opts)
		if err == nil {
			return c, nil
		}
		var pe *portError
		if !errors.As(err, &pe) || attempt == startAttempts {
			return nil, err
		}
		slog.Debug("kube: a port was taken, retrying on fresh ones", "attempt", attempt, "err", err)
	}
}

// binaries finds every component's binary, failing with
// devstack.ErrMissingBinary (and the fix) when one is absent.
func binaries(dir string) (map[string]string, error) {
	bins := make(map[string]string)
	for _, name := range []string{binEtcd, binAPIServer, binControllerManager, binScheduler, binKwok} {
		path, err := devstack.Binary(dir, name)
		if err != nil {
			return nil, fmt.Errorf("starting the test control plane (build it with `make kube-tools`): %w", err)
		}
		bins[name] = path
	}
	return bins, nil
}

func startOnce(ctx context.Context, bins map[string]string, stages []string, opts Options) (_ *ControlPlane, err error) {
	dir, err := os.MkdirTemp("", "canaryflow-kube-")
	if err != nil {
		return nil, fmt.Errorf("creating the control plane's directory: %w", err)
	}
	c := &ControlPlane{dir: dir, nodeName: opts.NodeName, kubeconfig: filepath.Join(dir, "admin.kubeconfig")}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	if c.certs, err = newPKI(dir); err != nil {
		return nil, err
	}
	p, err := freePorts()
	if err != nil {
		return nil, err
	}
	c.config = adminRESTConfig(loopback(p.apiserver), c.certs)
	if err := writeKubeconfig(c.kubeconfig, c.config, adminUser); err != nil {
		return nil, err
	}
	if c.client, err = kubernetes.NewForConfig(c.config); err != nil {
		return nil, fmt.Errorf("creating the admin client: %w", err)
	}

	etcd, err := c.start(binEtcd, bins, etcdArgs(dir, p), opts.Log)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, etcd, "http://"+loopback(p.etcdClient)+"/health"); err != nil {
		return nil, err
	}
	apiserver, err := c.start(binAPIServer, bins, apiserverArgs(dir, p, c.certs), opts.Log)
	if err != nil {
		return nil, err
	}
	if err := c.waitAPIServer(ctx, apiserver); err != nil {
		return nil, err
	}
	// The rest start in parallel: each only needs the API server.
	kcm, err := c.start(binControllerManager, bins, controllerManagerArgs(p, c.certs, c.kubeconfig), opts.Log)
	if err != nil {
		return nil, err
	}
	sched, err := c.start(binScheduler, bins, schedulerArgs(p, c.kubeconfig), opts.Log)
	if err != nil {
		return nil, err
	}
	if err := c.createNode(ctx); err != nil {
		return nil, err
	}
	kwok, err := c.start(binKwok, bins, kwokArgs(c.kubeconfig, stages), opts.Log)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, kcm, "https://"+loopback(p.controllerManager)+"/healthz"); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, sched, "https://"+loopback(p.scheduler)+"/healthz"); err != nil {
		return nil, err
	}
	if err := c.waitNodeReady(ctx, kwok); err != nil {
		return nil, err
	}
	if err := c.waitDefaultServiceAccount(ctx, kcm); err != nil {
		return nil, err
	}
	slog.Debug("kube: control plane ready", "host", c.config.Host, "dir", dir)
	return c, nil
}

// start runs one component under the supervisor and remembers it for Stop.
func (c *ControlPlane) start(name string, bins map[string]string, args []string, log io.Writer) (*component, error) {
	proc, err := devstack.StartProcess(name, bins[name], args, log)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	comp := &component{name: name, proc: proc}
	c.components = append(c.components, comp)
	return comp, nil
}

// freePorts picks every port one start needs.
func freePorts() (ports, error) {
	var p ports
	for _, port := range []*int{&p.etcdClient, &p.etcdPeer, &p.apiserver, &p.controllerManager, &p.scheduler} {
		var err error
		if *port, err = devstack.FreePort(); err != nil {
			return ports{}, fmt.Errorf("choosing the control plane's ports: %w", err)
		}
	}
	return p, nil
}

// RESTConfig returns a cluster-admin client configuration (a copy, safe to
// modify).
func (c *ControlPlane) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// Client is a cluster-admin clientset.
func (c *ControlPlane) Client() kubernetes.Interface { return c.client }

// KubeconfigPath is a self-contained cluster-admin kubeconfig file, for
// anything that takes a path (kubectl, Helm, the worker's flags). It is
// removed by Stop.
func (c *ControlPlane) KubeconfigPath() string { return c.kubeconfig }

// Host is the API server's URL (https://127.0.0.1:port).
func (c *ControlPlane) Host() string { return c.config.Host }

// NodeName is the name of the simulated node pods are scheduled to.
func (c *ControlPlane) NodeName() string { return c.nodeName }

// Pids returns each component's process ID (also its process group ID), by
// binary name.
func (c *ControlPlane) Pids() map[string]int {
	pids := make(map[string]int, len(c.components))
	for _, comp := range c.components {
		pids[comp.name] = comp.proc.Pid()
	}
	return pids
}

// LogTail returns the most recent output of every component, each under
// its name, for a failing test's report.
func (c *ControlPlane) LogTail() string {
	var b strings.Builder
	for _, comp := range c.components {
		fmt.Fprintf(&b, "--- %s ---\n%s\n", comp.name, comp.proc.LogTail())
	}
	return b.String()
}

// Stop stops every component, newest first (so nothing outlives what it
// depends on and logs errors about it), and removes the temporary
// directory. It returns an error if any component had died on its own;
// calling it again returns the same result.
func (c *ControlPlane) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		for i := len(c.components) - 1; i >= 0; i-- {
			comp := c.components[i]
			if err := comp.proc.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stopping %s: %w", comp.name, err))
			}
		}
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", c.dir, err))
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// portError marks a start that failed because a port was taken between
// choosing and binding it, which a retry on fresh ports fixes.
type portError struct{ err error }

func (e *portError) Error() string { return "port in use: " + e.err.Error() }
func (e *portError) Unwrap() error { return e.err }
