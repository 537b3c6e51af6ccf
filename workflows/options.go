package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// activityOptions gathers the timeouts and retry policies in one place, so
// how hard each side effect is retried can be read at a glance.
type activityOptions struct {
	preflight, deploy, smoke, setWeight, compensate, remove, notify workflow.ActivityOptions
}

func retry(initial, maxInterval time.Duration, attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: initial, BackoffCoefficient: 2, MaximumInterval: maxInterval, MaximumAttempts: attempts}
}

// Activities that change the world (deploy, weight, remove) are waited for
// when cancelled (WaitForCancellation): compensation must not race a weight
// change or a deploy still in flight, or it could undo its own work.
var opts = activityOptions{
	preflight: workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry(time.Second, 10*time.Second, 3)},
	deploy: workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute, WaitForCancellation: true,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 5)},
	smoke: workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute, RetryPolicy: retry(2*time.Second, 10*time.Second, 2)},
	setWeight: workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, WaitForCancellation: true,
		RetryPolicy: retry(time.Second, 10*time.Second, 5)},
	// Compensation tries hardest: traffic must get back to stable. It keeps
	// retrying for half an hour (a router or API server outage) before the
	// rollout is declared RollbackFailed for a human.
	compensate: workflow.ActivityOptions{ScheduleToCloseTimeout: 30 * time.Minute, StartToCloseTimeout: 30 * time.Second,
		WaitForCancellation: true, RetryPolicy: retry(time.Second, 30*time.Second, 0)},
	remove: workflow.ActivityOptions{ScheduleToCloseTimeout: 30 * time.Minute, StartToCloseTimeout: 2 * time.Minute,
		WaitForCancellation: true, RetryPolicy: retry(2*time.Second, 30*time.Second, 0)},
	notify: workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry(time.Second, 10*time.Second, 3)},
}

// waitReady bounds the whole wait, retries included, by the spec's ready
// timeout; the heartbeat lets a dead worker's attempt be retried quickly.
func (activityOptions) waitReady(spec rollout.Spec) workflow.ActivityOptions {
	d := spec.Deploy.ReadyTimeout.D()
	return workflow.ActivityOptions{
		ScheduleToCloseTimeout: d, StartToCloseTimeout: d, HeartbeatTimeout: 20 * time.Second,
		RetryPolicy: retry(time.Second, 10*time.Second, 0),
	}
}

// measure is tried once: a failed or slow query is an Error measurement,
// counted against the consecutive-error limit, not retried behind its back.
func (activityOptions) measure(spec rollout.Spec) workflow.ActivityOptions {
	d := min(spec.Analysis.Interval.D(), 30*time.Second)
	return workflow.ActivityOptions{StartToCloseTimeout: max(d, 5*time.Second), RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}}
}
