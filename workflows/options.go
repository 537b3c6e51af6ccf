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

var opts = activityOptions{
	preflight: workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry(time.Second, 10*time.Second, 3)},
	deploy:    workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute, RetryPolicy: retry(2*time.Second, 30*time.Second, 5)},
	smoke:     workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute, RetryPolicy: retry(2*time.Second, 10*time.Second, 2)},
	setWeight: workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry(time.Second, 10*time.Second, 5)},
	// Compensation tries harder: traffic must get back to stable.
	compensate: workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry(time.Second, 30*time.Second, 10)},
	remove:     workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute, RetryPolicy: retry(2*time.Second, 30*time.Second, 10)},
	notify:     workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry(time.Second, 10*time.Second, 3)},
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
