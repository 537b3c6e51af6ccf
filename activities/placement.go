package activities

import (
	"context"
	"slices"
)

// HostBoundDeployKinds are the deploy kinds whose work is tied to one
// machine: the local deployer's processes, state files and loopback router
// exist only on the host of the worker that started them.
var HostBoundDeployKinds = []string{"local"}

// Placement returns the task queue a rollout's activities must use: the
// host queue of this worker when the deploy kind is host-bound (every later
// activity then goes to the worker that owns the host, even when several
// workers share the main queue), or "" when any worker will do.
func (a *Activities) Placement(_ context.Context, deployKind string) (string, error) {
	if !slices.Contains(HostBoundDeployKinds, deployKind) {
		return "", nil
	}
	if _, err := pick("deploy", a.Deployers, deployKind); err != nil {
		return "", err
	}
	return a.HostQueue, nil
}
