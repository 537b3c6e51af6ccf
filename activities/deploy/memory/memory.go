// Package memory is an in-process Deployer for tests and dry runs: it keeps
// which release each role runs in a map and can be told to fail.
package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/canaryflow/canaryflow/rollout"
)

// Deployer records deployments per app, namespace and role.
type Deployer struct {
	mu      sync.Mutex
	running map[string]rollout.Release
	// FailDeploy, when set, is returned by Deploy for that role.
	FailDeploy map[rollout.Role]error
	// NeverReady makes Ready report false for that role forever.
	NeverReady map[rollout.Role]bool
	// NotReady, when set, makes Ready report false while it returns true
	// for the role and the version it runs.
	NotReady func(role rollout.Role, version string) bool
	calls    []string
}

// New returns an empty Deployer.
func New() *Deployer {
	return &Deployer{running: map[string]rollout.Release{}, FailDeploy: map[rollout.Role]error{}, NeverReady: map[rollout.Role]bool{}}
}

func key(spec rollout.Spec, role rollout.Role) string {
	return spec.Namespace + "/" + spec.App + "/" + string(role)
}

// Deploy records that role runs rel.
func (d *Deployer) Deploy(_ context.Context, spec rollout.Spec, role rollout.Role, rel rollout.Release) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, fmt.Sprintf("deploy %s %s", role, rel.Version))
	if err := d.FailDeploy[role]; err != nil {
		return err
	}
	d.running[key(spec, role)] = rel
	return nil
}

// Ready is true once role has been deployed, unless told otherwise.
func (d *Deployer) Ready(_ context.Context, spec rollout.Spec, role rollout.Role) (bool, string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rel, ok := d.running[key(spec, role)]
	switch {
	case !ok:
		return false, string(role) + " is not deployed", nil
	case d.NeverReady[role] || d.NotReady != nil && d.NotReady(role, rel.Version):
		return false, fmt.Sprintf("%s %s never becomes ready", role, rel.Version), nil
	}
	return true, "", nil
}

// Remove forgets role; removing what is absent succeeds.
func (d *Deployer) Remove(_ context.Context, spec rollout.Spec, role rollout.Role) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, fmt.Sprintf("remove %s", role))
	delete(d.running, key(spec, role))
	return nil
}

// Running returns the release role runs, if any.
func (d *Deployer) Running(spec rollout.Spec, role rollout.Role) (rollout.Release, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rel, ok := d.running[key(spec, role)]
	return rel, ok
}

// Calls returns the deploy and remove calls in order.
func (d *Deployer) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}
