package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	notifyslack "github.com/canaryflow/canaryflow/activities/notify/slack"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/demo/stack"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

// flushBound is how long a rollout that has ended waits for its last
// notifications (flushTimeout in workflows/notify.go).
const flushBound = 30 * time.Second

// Channels the fake Slack treats as down, one way each.
const (
	channelErroring = "#e2e-erroring" // answers 500 to every post
	channelHung     = "#e2e-hung"     // never answers
)

// downSlack is Slack's Web API gone bad: posts to channelErroring get a 500,
// posts to channelHung get no answer until the caller gives up.
type downSlack struct {
	srv   *httptest.Server
	quit  chan struct{}
	mu    sync.Mutex
	posts map[string]int // posts seen by channel
}

func newDownSlack(t *testing.T) *downSlack {
	t.Helper()
	d := &downSlack{quit: make(chan struct{}), posts: map[string]int{}}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		channel := r.PostForm.Get("channel")
		d.mu.Lock()
		d.posts[channel]++
		d.mu.Unlock()
		if channel == channelHung {
			select {
			case <-r.Context().Done():
			case <-d.quit:
			}
			return
		}
		http.Error(w, "slack is down (e2e fault)", http.StatusInternalServerError)
	}))
	t.Cleanup(func() {
		close(d.quit)
		d.srv.Close()
	})
	return d
}

func (d *downSlack) postsTo(channel string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.posts[channel]
}

// TestSlackDownLeavesRolloutsUnaffected runs three identical rollouts side
// by side on a worker whose Slack is down: one notifying the log (the
// undisturbed run), one posting to a Slack that answers 500, one to a Slack
// that never answers. Both Slack rollouts end exactly as the undisturbed one
// (same events but notify-failed, same weights, promoted), reach their
// promotion within the notifier's own timeout of it, and close at most the
// flush bound after it; their status shows the failed notifications.
func TestSlackDownLeavesRolloutsUnaffected(t *testing.T) {
	t.Parallel()
	slack := newDownSlack(t)
	// The notifier's bot token is fake: nothing leaves this machine.
	eng := faultEngine(t, "slack-down", "--slack-token", "xoxb-e2e-fake", "--slack-api-url", slack.srv.URL+"/")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	names := []string{"slack-baseline", "slack-erroring", "slack-hung"}
	opts := make([]stack.AppOptions, len(names))
	for i, n := range names {
		opts[i] = stack.AppOptions{Name: n, Hold: 3 * time.Second}
	}
	apps := startFaultApps(ctx, t, eng, opts...)
	baseline, erroring, hung := apps[0], apps[1], apps[2]
	erroring.Spec.Notify = rollout.Notify{Kind: "slack", Channel: channelErroring}
	hung.Spec.Notify = rollout.Notify{Kind: "slack", Channel: channelHung}
	for _, f := range apps {
		f.start(ctx, t)
	}

	type ended struct {
		res workflows.Result
		s   rollout.Status
		// toPromoted is from the rollout's start to its promoted event;
		// toClose from that event to the workflow's close.
		toPromoted, toClose time.Duration
	}
	end := func(f *faultApp) ended {
		res, s := f.finish(ctx, t)
		f.requireUndisturbedPromotion(ctx, t, res, s, 0, 10, 25, 50, 0)
		d, err := eng.Client.DescribeWorkflowExecution(ctx, f.id, "")
		require.NoError(t, err)
		info := d.GetWorkflowExecutionInfo()
		promoted := eventAt(t, s, "promoted")
		return ended{
			res: res, s: s,
			toPromoted: promoted.Sub(info.GetStartTime().AsTime()),
			toClose:    info.GetCloseTime().AsTime().Sub(promoted),
		}
	}
	base := end(baseline)
	assert.Zero(t, count(base.s, "notify-failed"), "the log notifier does not fail")
	t.Logf("undisturbed: promoted %s after start, closed %s later", base.toPromoted.Round(time.Millisecond), base.toClose.Round(time.Millisecond))

	for _, c := range []struct {
		f       *faultApp
		channel string
		why     string
	}{
		{erroring, channelErroring, "500"},
		{hung, channelHung, "no answer within " + notifyslack.DefaultTimeout.String()},
	} {
		got := end(c.f)
		t.Logf("%s: promoted %s after start, closed %s later; %d posts to Slack", c.f.id,
			got.toPromoted.Round(time.Millisecond), got.toClose.Round(time.Millisecond), slack.postsTo(c.channel))
		assert.Equal(t, base.res, got.res, "%s ends as the undisturbed rollout", c.f.id)
		// Whether a hold needed more looks ("extend") depends on the traffic
		// each run happened to get before the judge could decide, not on Slack.
		assert.Equal(t, kindsBut(base.s, "notify-failed", "extend"), kindsBut(got.s, "notify-failed", "extend"), "%s logs what the undisturbed rollout logs", c.f.id)
		assert.Positive(t, slack.postsTo(c.channel), "%s tried Slack", c.f.id)
		failed := messagesOf(got.s, "notify-failed")
		require.NotEmpty(t, failed, "%s: the status shows the failed notifications", c.f.id)
		assert.True(t, slices.ContainsFunc(failed, func(m string) bool { return strings.Contains(m, c.why) }),
			"%s: a notify-failed event says %q; got %q", c.f.id, c.why, failed)
		assert.LessOrEqual(t, got.toPromoted, base.toPromoted+notifyslack.DefaultTimeout,
			"%s: a Slack outage must not hold the rollout up (undisturbed: %s)", c.f.id, base.toPromoted)
		assert.LessOrEqual(t, got.toClose, flushBound+notifyslack.DefaultTimeout,
			"%s: the last notifications are waited for at most the flush bound", c.f.id)
	}
}

// eventAt is when the rollout logged its first event of kind.
func eventAt(t *testing.T, s rollout.Status, kind string) time.Time {
	t.Helper()
	for _, e := range s.Events {
		if e.Kind == kind {
			return e.At
		}
	}
	t.Fatalf("no %s event; status:\n%s", kind, control.FormatStatus(s))
	return time.Time{}
}

// kindsBut lists the status's event kinds in order, leaving out skip.
func kindsBut(s rollout.Status, skip ...string) []string {
	var out []string
	for _, e := range s.Events {
		if !slices.Contains(skip, e.Kind) {
			out = append(out, e.Kind)
		}
	}
	return out
}

func messagesOf(s rollout.Status, kind string) []string {
	var out []string
	for _, e := range s.Events {
		if e.Kind == kind {
			out = append(out, e.Message)
		}
	}
	return out
}
