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

// Deploy makes a role run a release, without waiting for it to be ready. It
// heartbeats while the deployer works (a Helm upgrade can take minutes), so
// a dead worker is noticed within the heartbeat timeout.
func (a *Activities) Deploy(ctx context.Context, in DeployInput) error {
	d, err := pick("deploy", a.Deployers, in.Spec.Deploy.Kind)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("deploying %s %s", in.Role, in.Release.Version)
	defer heartbeatWhile(ctx, func() any { return what })()
	activity.GetLogger(ctx).Info("deploying", "role", in.Role, "version", in.Release.Version)
	return classify(what, rollout.RedactError(d.Deploy(ctx, in.Spec, in.Role, in.Release), specURLs(in.Spec)...))
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
		detail = rollout.Scrub(rollout.RedactText(detail), specURLs(in.Spec)...)
		err = rollout.RedactError(err, specURLs(in.Spec)...)
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

// Remove deletes a role's deployment; it succeeds if nothing is there. It
// heartbeats like Deploy.
func (a *Activities) Remove(ctx context.Context, in RoleInput) error {
	d, err := pick("deploy", a.Deployers, in.Spec.Deploy.Kind)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("removing %s", in.Role)
	defer heartbeatWhile(ctx, func() any { return what })()
	return classify(what, rollout.RedactError(d.Remove(ctx, in.Spec, in.Role), specURLs(in.Spec)...))
}

// Heartbeat pacing: with a heartbeat timeout, heartbeats come at a quarter
// of it so one late tick is not a timeout (the SDK batches them to at most
// one per 80 % of the timeout); without one, every 10 s.
const (
	heartbeatWithoutTimeout = 10 * time.Second
	minHeartbeatEvery       = 10 * time.Millisecond
)

// heartbeatWhile records a heartbeat with details() at once and then
// regularly until the returned stop is called. Activities whose provider
// call blocks (a deploy, a removal, a batch of smoke requests) cannot
// heartbeat between steps, so a goroutine does it for them: a worker that
// dies is then noticed within the heartbeat timeout, and a cancellation
// reaches the activity's context. Outside an activity it does nothing.
func heartbeatWhile(ctx context.Context, details func() any) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	every := heartbeatWithoutTimeout
	if t := activity.GetInfo(ctx).HeartbeatTimeout; t > 0 {
		every = max(t/4, minHeartbeatEvery)
	}
	activity.RecordHeartbeat(ctx, details())
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				activity.RecordHeartbeat(ctx, details())
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// isRetryable reports whether Temporal would retry err.
func isRetryable(err error) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return !app.NonRetryable()
	}
	return true
}
