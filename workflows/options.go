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
	preflight, deploy, smoke, setWeight, compensate, compensateDeploy, remove, notify workflow.ActivityOptions
}

// heartbeat is how long a Deploy, Remove or SmokeTest attempt may go without
// a heartbeat before Temporal retries it elsewhere: a worker killed mid-call
// is noticed in seconds, not after the whole start-to-close timeout. The
// activities heartbeat every few seconds.
const heartbeat = 30 * time.Second

// measureTimeout is above the Prometheus source's per-query bound (10 s by
// default; the queries of one measurement run concurrently), so a slow query
// is reported by the source as a query failure with its reason rather than
// cut off by Temporal as an anonymous timeout.
const measureTimeout = 30 * time.Second

func retry(initial, maxInterval time.Duration, attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: initial, BackoffCoefficient: 2, MaximumInterval: maxInterval, MaximumAttempts: attempts}
}

// Activities that change the world (deploy, weight, remove) are waited for
// when cancelled (WaitForCancellation): compensation must not race a weight
// change or a deploy still in flight, or it could undo its own work.
var opts = activityOptions{
	preflight: workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry(time.Second, 10*time.Second, 3)},
	deploy: workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute, HeartbeatTimeout: heartbeat, WaitForCancellation: true,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 5)},
	smoke: workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute, HeartbeatTimeout: heartbeat, RetryPolicy: retry(2*time.Second, 10*time.Second, 2)},

	setWeight: workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, WaitForCancellation: true,
		RetryPolicy: retry(time.Second, 10*time.Second, 5)},
	// Compensation tries hardest: traffic must get back to stable. Temporal
	// retries a retryable failure for up to 5 minutes a round; the workflow
	// (persist) retries any failure, retryable or not, for Input.RollbackRetryFor
	// before the rollout is RollbackFailed and waits for a person. Rollouts
	// from before versionHardened have no outer loop: 30 minutes here.
	compensate: workflow.ActivityOptions{ScheduleToCloseTimeout: 30 * time.Minute, StartToCloseTimeout: 30 * time.Second,
		WaitForCancellation: true, RetryPolicy: retry(time.Second, 30*time.Second, 0)},
	// Restoring stable in compensation is retried without an attempt limit,
	// unlike the forward deploy's five.
	compensateDeploy: workflow.ActivityOptions{ScheduleToCloseTimeout: 5 * time.Minute, StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout: heartbeat, WaitForCancellation: true, RetryPolicy: retry(2*time.Second, 30*time.Second, 0)},
	remove: workflow.ActivityOptions{ScheduleToCloseTimeout: 30 * time.Minute, StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout: heartbeat, WaitForCancellation: true, RetryPolicy: retry(2*time.Second, 30*time.Second, 0)},
	// A notifier or incident store that is down must not hold a rollout up:
	// the schedule-to-close bound ends the wait even if no worker polls.
	notify: workflow.ActivityOptions{ScheduleToCloseTimeout: 2 * time.Minute, StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: retry(time.Second, 10*time.Second, 3)},
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

// measureLocal is measure as a local activity: the same single attempt and
// bound, run by the worker that runs the workflow task.
func (activityOptions) measureLocal() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{ScheduleToCloseTimeout: 2 * measureTimeout, StartToCloseTimeout: measureTimeout,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}}
}

// measure is tried once: a failed or slow query is an Error measurement,
// counted against the consecutive-error limit, not retried behind its back.
func (activityOptions) measure(spec rollout.Spec) workflow.ActivityOptions {
	// Schedule-to-close too: a host-bound rollout whose host is gone gets
	// Error measurements (counted against their limit), not a hung analysis.
	return workflow.ActivityOptions{ScheduleToCloseTimeout: 2 * measureTimeout, StartToCloseTimeout: measureTimeout,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}}
}
