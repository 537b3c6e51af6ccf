package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// flushTimeout bounds how long a rollout that has ended (or continues as new)
// waits for its last notifications: the outcome is already settled, and a
// notifier that hangs must not hold the workflow open.
const flushTimeout = 30 * time.Second

// maxOutbox bounds the notifications waiting to go out; past it the oldest
// step notice is dropped (recorded), so a notifier that is down cannot grow
// the workflow's state without end.
const maxOutbox = 20

// outbox sends a rollout's notifications one at a time, in order, off the
// main flow: a Slack that is slow or down delays nothing, and every message
// after the first goes into the thread the first one started.
type outbox struct {
	queue   []rollout.Notification
	sending bool
	// thread is the notifier's handle on the rollout's conversation, carried
	// across continue-as-new (Resume.Thread).
	thread string
}

func (o *outbox) idle() bool { return len(o.queue) == 0 && !o.sending }

// notify announces an event; a notifier that is down must never change a
// rollout's outcome, so its failure is only recorded.
func (r *run) notify(ctx workflow.Context, event, severity, title, text string) {
	info := workflow.GetInfo(ctx)
	n := rollout.Notification{
		RolloutID: info.WorkflowExecution.ID, App: r.spec.App, Namespace: r.spec.Namespace,
		Event: event, Channel: r.spec.Notify.Channel, Title: title, Text: text, At: workflow.Now(ctx), Severity: severity,
		Stable: r.spec.Stable.Version, Canary: r.spec.Canary.Version,
		Step: r.status.Step, StepCount: r.status.StepCount, Weight: r.status.Weight,
	}
	if r.waiting != nil {
		// The step an Approve button names: a stale button is then refused.
		n.Step = r.waitingNumber()
	}
	if m, ok := r.status.LastMeasurement(); ok && severity != "info" {
		m.Sample.Queries = nil // the figures, not the PromQL: history stays small
		n.Measurement = &m
	}
	if r.outbox == nil { // rollouts started before versionNotifyThread
		if err := r.exec(ctx, opts.notify, a.Notify, r.spec.Notify.Kind, n); err != nil {
			r.event(ctx, "notify-failed", fmt.Sprintf("notifying %s: %v", event, err), "")
		}
		return
	}
	o := r.outbox
	if len(o.queue) >= maxOutbox {
		r.event(ctx, "notify-failed", fmt.Sprintf("notifier behind: %s dropped", o.queue[0].Event), "")
		o.queue = o.queue[1:]
	}
	o.queue = append(o.queue, n)
}

// startOutbox starts the coroutine that empties the outbox. It runs on a
// disconnected context: cancelling the rollout must not silence the
// notifications of its rollback.
func (r *run) startOutbox(ctx workflow.Context, thread string) {
	o := &outbox{thread: thread}
	r.outbox = o
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	workflow.Go(dctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return len(o.queue) > 0 }); err != nil {
				return
			}
			n := o.queue[0]
			o.queue, o.sending = o.queue[1:], true
			n.Thread = o.thread
			var thread string
			f := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts.notify), a.Notify, r.spec.Notify.Kind, n)
			if err := f.Get(ctx, &thread); err != nil {
				r.event(ctx, "notify-failed", fmt.Sprintf("notifying %s: %s", n.Event, rootMessage(err)), "")
			} else if o.thread == "" {
				o.thread = thread
			}
			o.sending = false
		}
	})
}

// flush waits, at most flushTimeout, for the notifications still queued.
func (r *run) flush(ctx workflow.Context) {
	if r.outbox == nil || r.outbox.idle() {
		return
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	ok, _ := workflow.AwaitWithTimeout(dctx, flushTimeout, r.outbox.idle)
	if !ok {
		left := len(r.outbox.queue)
		if r.outbox.sending {
			left++
		}
		r.event(dctx, "notify-failed", fmt.Sprintf("%d notifications not sent within %s of the end", left, flushTimeout), "")
	}
}

// thread is the conversation to carry into the next run.
func (r *run) thread() string {
	if r.outbox == nil {
		return ""
	}
	return r.outbox.thread
}
