package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"golang.org/x/sync/errgroup"
)

// lagParts is where a measurement's time between its timer's start and its
// workflow task's completion went, read from the histories' own timestamps:
// the server firing the timer late, the workflow task waiting in its queue
// for a poller, and the worker running it (the local activity included).
type lagParts struct {
	timerLate, queued, running []time.Duration
	timedOut                   int // workflow tasks that timed out (sticky or start-to-close)
}

// whereLagWent reads every rollout's history and splits the time of each
// measurement timer fired after t0 into lagParts, so the benchmark can say whether the
// server's timers, its task queues or the worker made a measurement late.
func whereLagWent(ctx context.Context, b *testing.B, e *engine, ids []string, t0 time.Time) lagParts {
	parts := make([]lagParts, len(ids))
	var g errgroup.Group
	g.SetLimit(16)
	for i, id := range ids {
		g.Go(func() error {
			var events []*historypb.HistoryEvent
			it := e.c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					return fmt.Errorf("reading the history of %s: %w", id, err)
				}
				events = append(events, ev)
			}
			parts[i] = splitLag(events, t0)
			return nil
		})
	}
	require.NoError(b, g.Wait())
	var all lagParts
	for _, p := range parts {
		all.timerLate = append(all.timerLate, p.timerLate...)
		all.queued = append(all.queued, p.queued...)
		all.running = append(all.running, p.running...)
		all.timedOut += p.timedOut
	}
	return all
}

// splitLag is lagParts for one history: each timer that fired after t0,
// how late it fired, and the workflow task that followed it.
func splitLag(events []*historypb.HistoryEvent, t0 time.Time) lagParts {
	var p lagParts
	due := map[int64]time.Time{} // timer started event ID → when it was due
	var scheduled, started time.Time
	counting := false
	for _, ev := range events {
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			due[ev.GetEventId()] = at.Add(ev.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration())
		case enumspb.EVENT_TYPE_TIMER_FIRED:
			d, ok := due[ev.GetTimerFiredEventAttributes().GetStartedEventId()]
			counting = ok && at.After(t0)
			if counting {
				p.timerLate = append(p.timerLate, max(at.Sub(d), 0))
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			scheduled = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			started = at
			if counting {
				p.queued = append(p.queued, at.Sub(scheduled))
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			if counting {
				p.running = append(p.running, at.Sub(started))
			}
			counting = false
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
			if at.After(t0) {
				p.timedOut++
			}
		}
	}
	return p
}

// report adds each part's p50 and p99 to the benchmark's figures.
func (p lagParts) report(b *testing.B) {
	for _, part := range []struct {
		name string
		ds   []time.Duration
	}{{"timer-late", p.timerLate}, {"queued", p.queued}, {"running", p.running}} {
		if len(part.ds) == 0 {
			continue
		}
		slices.Sort(part.ds)
		at := func(q float64) float64 { return part.ds[min(len(part.ds)-1, int(q*float64(len(part.ds))))].Seconds() }
		b.ReportMetric(at(0.50), part.name+"-p50-s")
		b.ReportMetric(at(0.99), part.name+"-p99-s")
	}
	b.ReportMetric(float64(p.timedOut), "wft-timeouts")
}
