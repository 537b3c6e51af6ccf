package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/canaryflow/canaryflow/rollout"
)

// DeployInput names what to deploy where.
type DeployInput struct {
	Spec    rollout.Spec    `json:"spec"`
	Role    rollout.Role    `json:"role"`
	Release rollout.Release `json:"release"`
}

// Deploy makes a role run a release, without waiting for it to be ready.
func (a *Activities) Deploy(ctx context.Context, in DeployInput) error {
	d, err := pick("deploy", a.Deployers, in.Spec.Deploy.Kind)
	if err != nil {
		return err
	}
	activity.GetLogger(ctx).Info("deploying", "role", in.Role, "version", in.Release.Version)
	return classify(fmt.Sprintf("deploying %s %s", in.Role, in.Release.Version), d.Deploy(ctx, in.Spec, in.Role, in.Release))
}

// RoleInput names one role of a rollout.
type RoleInput struct {
	Spec rollout.Spec `json:"spec"`
	Role rollout.Role `json:"role"`
}

// WaitReady polls until the role is ready, heartbeating so a dead worker is
// noticed within the heartbeat timeout rather than the whole ready timeout.
func (a *Activities) WaitReady(ctx context.Context, in RoleInput) error {
	d, err := pick("deploy", a.Deployers, in.Spec.Deploy.Kind)
	if err != nil {
		return err
	}
	every := a.PollInterval
	if every == 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ready, detail, err := d.Ready(ctx, in.Spec, in.Role)
		if err != nil {
			if err := classify(fmt.Sprintf("checking %s readiness", in.Role), err); !isRetryable(err) {
				return err
			}
			detail = err.Error()
		}
		if ready {
			return nil
		}
		activity.RecordHeartbeat(ctx, detail)
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to be ready (last seen: %s): %w", in.Role, detail, ctx.Err())
		case <-tick.C:
		}
	}
}

// Remove deletes a role's deployment; it succeeds if nothing is there.
func (a *Activities) Remove(ctx context.Context, in RoleInput) error {
	d, err := pick("deploy", a.Deployers, in.Spec.Deploy.Kind)
	if err != nil {
		return err
	}
	return classify(fmt.Sprintf("removing %s", in.Role), d.Remove(ctx, in.Spec, in.Role))
}

// isRetryable reports whether Temporal would retry err.
func isRetryable(err error) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return !app.NonRetryable()
	}
	return true
}
