package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/canaryflow/canaryflow/internal/kube"
)

// kubeStartTimeout bounds a control plane's start: five processes, the API
// server's bootstrap hooks and a node becoming Ready take tens of seconds
// on a busy 2-core machine.
const kubeStartTimeout = 3 * time.Minute

// Kube starts a Kubernetes test control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, and kwok with one simulated
// node) for t on free loopback ports, and stops it when t ends.
func Kube(t testing.TB) *kube.ControlPlane {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubeStartTimeout)
	defer cancel()
	start := time.Now()
	cp, err := kube.Start(ctx, kube.Options{StartTimeout: kubeStartTimeout})
	if err != nil {
		t.Fatalf("testenv: starting the Kubernetes test control plane: %v", err)
	}
	t.Logf("testenv: kube-apiserver at %s ready in %s", cp.Host(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { stop(t, "the Kubernetes control plane", cp.Stop, cp.LogTail) })
	return cp
}
