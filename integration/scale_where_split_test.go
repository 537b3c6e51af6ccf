package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestSplitLagFindsTheLateTimer is the stock dev server's 1,000-rollout
// case: a 10 s timer started before the window fires 26.5 s late inside it,
// then its workflow task waits 88 ms and runs 5 ms. The lateness must land on
// the timer even though the timer was due before the window opened (the
// first version counted timers by when they were due and missed exactly
// these), and a timer that fired before the window must not count.
func TestSplitLagFindsTheLateTimer(t *testing.T) {
	base := time.Date(2026, 11, 26, 8, 4, 0, 0, time.UTC)
	at := func(ms int) *timestamppb.Timestamp {
		return timestamppb.New(base.Add(time.Duration(ms) * time.Millisecond))
	}
	ev := func(id int64, ms int, typ enumspb.EventType) *historypb.HistoryEvent {
		return &historypb.HistoryEvent{EventId: id, EventTime: at(ms), EventType: typ}
	}
	timer := func(id int64, ms int) *historypb.HistoryEvent {
		e := ev(id, ms, enumspb.EVENT_TYPE_TIMER_STARTED)
		e.Attributes = &historypb.HistoryEvent_TimerStartedEventAttributes{TimerStartedEventAttributes: &historypb.TimerStartedEventAttributes{
			StartToFireTimeout: durationpb.New(10 * time.Second),
		}}
		return e
	}
	fired := func(id int64, ms int, started int64) *historypb.HistoryEvent {
		e := ev(id, ms, enumspb.EVENT_TYPE_TIMER_FIRED)
		e.Attributes = &historypb.HistoryEvent_TimerFiredEventAttributes{TimerFiredEventAttributes: &historypb.TimerFiredEventAttributes{StartedEventId: started}}
		return e
	}
	events := []*historypb.HistoryEvent{
		timer(1, 0),
		fired(2, 10_000, 1), // before the window: not counted
		ev(3, 10_000, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
		ev(4, 10_050, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED),
		ev(5, 10_060, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
		timer(6, 10_060),
		fired(7, 46_560, 6), // due at 20.06 s, before the window; fired at 46.56 s, in it
		ev(8, 46_560, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
		ev(9, 46_648, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED),
		ev(10, 46_653, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
		ev(11, 47_000, enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT),
	}
	p := splitLag(events, base.Add(30*time.Second))
	assert.Equal(t, []time.Duration{26500 * time.Millisecond}, p.timerLate)
	assert.Equal(t, []time.Duration{88 * time.Millisecond}, p.queued)
	assert.Equal(t, []time.Duration{5 * time.Millisecond}, p.running)
	assert.Equal(t, 1, p.timedOut)

	// A history with no timers (or a hostile one: a fired timer naming no
	// started event) yields nothing rather than a made-up figure.
	p = splitLag([]*historypb.HistoryEvent{fired(1, 40_000, 99)}, base)
	assert.Empty(t, p.timerLate)
	assert.Empty(t, splitLag(nil, base).queued)
}
