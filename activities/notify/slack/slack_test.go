package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// posted records what reached chat.postMessage.
type posted struct {
	mu   sync.Mutex
	msgs []url.Values
}

func (p *posted) all() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]url.Values(nil), p.msgs...)
}

// server is a slacktest server whose chat.postMessage records the form and
// answers with answer(n) for the n-th post (from 1).
func server(t *testing.T, p *posted, answer func(n int) string) *slacktest.Server {
	s := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			require.NoError(t, r.ParseForm())
			p.mu.Lock()
			p.msgs = append(p.msgs, r.PostForm)
			n := len(p.msgs)
			p.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(answer(n)))
		})
	})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// slackLike answers like Slack: the channel's ID and a fresh timestamp.
func slackLike(n int) string {
	return fmt.Sprintf(`{"ok":true,"channel":"C0DEPLOYS","ts":"1700000000.%06d"}`, n)
}

func fixed(body string) func(int) string { return func(int) string { return body } }

func note() rollout.Notification {
	return rollout.Notification{RolloutID: "canary-prod.shop", App: "shop", Namespace: "prod", Event: "RolledBack",
		Title: "Canary v2 of prod/shop RolledBack", Text: "canary error rate 20.00% > 5.00%", Severity: "critical", At: time.Unix(1700000000, 0)}
}

// block is the part of a Block Kit block the tests read.
type block struct {
	Type string `json:"type"`
	Text *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"text"`
	Fields []struct {
		Text string `json:"text"`
	} `json:"fields"`
	Elements []struct {
		Type     string          `json:"type"`
		ActionID string          `json:"action_id"`
		Value    string          `json:"value"`
		Style    string          `json:"style"`
		Text     json.RawMessage `json:"text"`
		Confirm  json.RawMessage `json:"confirm"`
	} `json:"elements"`
}

func blocksOf(t *testing.T, v url.Values) []block {
	t.Helper()
	var bs []block
	require.NoError(t, json.Unmarshal([]byte(v.Get("blocks")), &bs), "blocks: %s", v.Get("blocks"))
	return bs
}

// texts are every string in the blocks, decoded: what Slack would read.
func texts(t *testing.T, v url.Values) string {
	t.Helper()
	var doc any
	require.NoError(t, json.Unmarshal([]byte(v.Get("blocks")), &doc))
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	return strings.Join(out, "\n")
}

func ofType(bs []block, typ string) []block {
	var out []block
	for _, b := range bs {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// fieldTexts are all section fields' texts, joined.
func fieldTexts(bs []block) string {
	var s []string
	for _, b := range ofType(bs, "section") {
		for _, f := range b.Fields {
			s = append(s, f.Text)
		}
	}
	return strings.Join(s, "\n")
}

func TestFirstMessageStartsAThreadAndTheRestReplyInIt(t *testing.T) {
	var p posted
	s := server(t, &p, slackLike)
	n, err := New("xoxb-test", "#fallback", s.GetAPIURL())
	require.NoError(t, err)
	ctx := context.Background()

	first := note()
	first.Event, first.Severity, first.Channel = "started", "info", "#deploys"
	thread, err := n.Notify(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, "C0DEPLOYS/1700000000.000001", thread, "the handle names the channel's ID and the first message")

	step := first
	step.Event, step.Thread = "step", thread
	again, err := n.Notify(ctx, step)
	require.NoError(t, err)
	assert.Equal(t, thread, again)

	approval := step
	approval.Event = "approval-needed"
	_, err = n.Notify(ctx, approval)
	require.NoError(t, err)

	msgs := p.all()
	require.Len(t, msgs, 3)
	assert.Equal(t, "#deploys", msgs[0].Get("channel"))
	assert.Empty(t, msgs[0].Get("thread_ts"))
	for _, m := range msgs[1:] {
		assert.Equal(t, "C0DEPLOYS", m.Get("channel"), "replies go to the thread's channel, by ID")
		assert.Equal(t, "1700000000.000001", m.Get("thread_ts"))
	}
	assert.Empty(t, msgs[1].Get("reply_broadcast"), "a step stays in the thread")
	assert.Equal(t, "true", msgs[2].Get("reply_broadcast"), "a request for approval is shown in the channel too")
}

func TestADamagedThreadHandleStartsANewThread(t *testing.T) {
	for _, h := range []string{"garbage", "C1/", "/1.2", "c1/1.2", "C1/1.2.3", "C1/1", "C1/<!here>", "C1/1.2/x"} {
		var p posted
		s := server(t, &p, slackLike)
		n, err := New("xoxb-test", "#deploys", s.GetAPIURL())
		require.NoError(t, err)
		msg := note()
		msg.Thread = h
		thread, err := n.Notify(context.Background(), msg)
		require.NoError(t, err, h)
		assert.Equal(t, "C0DEPLOYS/1700000000.000001", thread, h)
		require.Len(t, p.all(), 1)
		assert.Equal(t, "#deploys", p.all()[0].Get("channel"), h)
		assert.Empty(t, p.all()[0].Get("thread_ts"), h)
	}
}

func TestMessageShape(t *testing.T) {
	var p posted
	s := server(t, &p, slackLike)
	n, err := New("xoxb-test", "#deploys", s.GetAPIURL())
	require.NoError(t, err)
	msg := note()
	msg.Event, msg.Severity, msg.Title, msg.Text = "step", "info", "prod/shop canary at 25%", "step 3 of 6"
	msg.Stable, msg.Canary, msg.Step, msg.StepCount, msg.Weight = "v1", "v2", 3, 6, 25
	_, err = n.Notify(context.Background(), msg)
	require.NoError(t, err)
	got := p.all()[0]
	assert.Equal(t, "prod/shop canary at 25%", got.Get("text"), "the fallback text is the title")
	bs := blocksOf(t, got)
	require.NotEmpty(t, bs)
	assert.Equal(t, "header", bs[0].Type)
	assert.Contains(t, bs[0].Text.Text, "prod/shop canary at 25%")
	assert.Equal(t, "plain_text", bs[0].Text.Type)
	fields := fieldTexts(bs)
	for _, want := range []string{"*App*\nshop", "*Namespace*\nprod", "*Versions*\nv1 → v2", "*Step*\n3/6", "*Canary weight*\n25%"} {
		assert.Contains(t, fields, want)
	}
	ctxs := ofType(bs, "context")
	require.Len(t, ctxs, 1)
	assert.Contains(t, texts(t, got), "rollout `canary-prod.shop`")
	assert.Empty(t, ofType(bs, "actions"), "only a request for approval has buttons")
}

func TestWithoutPositionTheFieldsAreAppAndNamespace(t *testing.T) {
	var p posted
	s := server(t, &p, slackLike)
	n, err := New("xoxb-test", "#deploys", s.GetAPIURL())
	require.NoError(t, err)
	_, err = n.Notify(context.Background(), note())
	require.NoError(t, err)
	fields := fieldTexts(blocksOf(t, p.all()[0]))
	assert.Contains(t, fields, "*App*\nshop")
	assert.NotContains(t, fields, "*Step*")
	assert.NotContains(t, fields, "*Versions*")
}

func TestApprovalMessageHasApproveAndAbortButtons(t *testing.T) {
	var p posted
	s := server(t, &p, slackLike)
	n, err := New("xoxb-test", "#deploys", s.GetAPIURL())
	require.NoError(t, err)
	msg := note()
	msg.Event, msg.Severity, msg.Step, msg.StepCount, msg.Weight = "approval-needed", "info", 2, 4, 10
	_, err = n.Notify(context.Background(), msg)
	require.NoError(t, err)
	acts := ofType(blocksOf(t, p.all()[0]), "actions")
	require.Len(t, acts, 1)
	els := acts[0].Elements
	require.Len(t, els, 2)

	assert.Equal(t, ActionApprove, els[0].ActionID)
	assert.Equal(t, "primary", els[0].Style)
	assert.Contains(t, string(els[0].Text), "Approve step 2")
	a, err := ParseAction(els[0].ActionID, els[0].Value)
	require.NoError(t, err)
	assert.Equal(t, rollout.SignalApprove, a.Name)
	assert.Equal(t, "canary-prod.shop", a.WorkflowID)
	require.NotNil(t, a.Step)
	assert.Equal(t, 2, *a.Step)

	assert.Equal(t, ActionAbort, els[1].ActionID)
	assert.Equal(t, "danger", els[1].Style)
	assert.NotEmpty(t, els[1].Confirm, "abort asks for confirmation")
	a, err = ParseAction(els[1].ActionID, els[1].Value)
	require.NoError(t, err)
	assert.Equal(t, rollout.SignalAbort, a.Name)
	assert.Equal(t, "canary-prod.shop", a.WorkflowID)
	assert.Nil(t, a.Step)
}

func TestNoButtonsForAnIDTheHandlerWouldRefuse(t *testing.T) {
	var p posted
	s := server(t, &p, slackLike)
	n, err := New("xoxb-test", "#deploys", s.GetAPIURL())
	require.NoError(t, err)
	msg := note()
	msg.Event, msg.RolloutID = "approval-needed", "canary-team_2fa.web"
	_, err = n.Notify(context.Background(), msg)
	require.NoError(t, err)
	assert.Empty(t, ofType(blocksOf(t, p.all()[0]), "actions"))
}

func TestRollbackShowsTheReasonAndTheFigures(t *testing.T) {
	var p posted
	s := server(t, &p, slackLike)
	n, err := New("xoxb-test", "#deploys", s.GetAPIURL())
	require.NoError(t, err)
	msg := note()
	msg.Text = "analysis failed at 25% canary weight: canary error rate 8.69% > 5.00%"
	msg.Measurement = &rollout.Measurement{Weight: 25, Verdict: rollout.Failed,
		Sample: rollout.Sample{
			Canary:  rollout.VersionFigures{RequestRate: 9.2, ErrorRate: 0.0869, P95: 0.097, P99: 0.099},
			Stable:  rollout.NoData(),
			Queries: map[string]string{"canary.errorRate": `sum(rate(x{version="canary"}[1m]))`},
		},
		Reasons: []string{"canary error rate 8.69% > 5.00%", "a", "b", "c", "d", "e", "f"}}
	_, err = n.Notify(context.Background(), msg)
	require.NoError(t, err)
	raw := texts(t, p.all()[0])
	bs := blocksOf(t, p.all()[0])
	assert.Contains(t, raw, "analysis failed at 25% canary weight: canary error rate 8.69% &gt; 5.00%")
	fields := fieldTexts(bs)
	for _, want := range []string{"Failed at 25% canary weight", "*Error rate*\ncanary 8.69% · stable –", "*p95 latency*\ncanary 97 ms · stable –", "*Requests*\ncanary 9.20/s"} {
		assert.Contains(t, fields, want)
	}
	assert.Contains(t, raw, "• canary error rate 8.69% &gt; 5.00%")
	assert.Contains(t, raw, "…and 2 more")
	assert.NotContains(t, raw, "sum(rate", "queries stay in status and the incident report")
}

func TestPostsToTheSpecsChannel(t *testing.T) {
	var p posted
	s := server(t, &p, slackLike)
	n, err := New("xoxb-test", "#fallback", s.GetAPIURL())
	require.NoError(t, err)
	msg := note()
	msg.Channel = "#deploys"
	_, err = n.Notify(context.Background(), msg)
	require.NoError(t, err)
	assert.Equal(t, "#deploys", p.all()[0].Get("channel"))
}

func TestFallsBackToTheWorkersChannel(t *testing.T) {
	var p posted
	s := server(t, &p, fixed(`{"ok":true}`))
	n, err := New("xoxb-test", "#fallback", s.GetAPIURL())
	require.NoError(t, err)
	thread, err := n.Notify(context.Background(), note())
	require.NoError(t, err)
	assert.Equal(t, "#fallback", p.all()[0].Get("channel"))
	assert.Empty(t, thread, "no timestamp in the answer: nothing to thread on")
}

func TestNoChannelAnywhereIsPermanent(t *testing.T) {
	n, err := New("xoxb-test", "", "http://127.0.0.1:1/")
	require.NoError(t, err)
	_, err = n.Notify(context.Background(), note())
	require.ErrorIs(t, err, rollout.ErrPermanent)
}

func TestSlackRefusalIsPermanent(t *testing.T) {
	var p posted
	s := server(t, &p, fixed(`{"ok":false,"error":"channel_not_found"}`))
	n, err := New("xoxb-test", "#nope", s.GetAPIURL())
	require.NoError(t, err)
	_, err = n.Notify(context.Background(), note())
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.Contains(t, err.Error(), "channel_not_found")
}

func TestUnreachableSlackIsRetryable(t *testing.T) {
	n, err := New("xoxb-test", "#deploys", "http://127.0.0.1:1/")
	require.NoError(t, err)
	_, err = n.Notify(context.Background(), note())
	require.Error(t, err)
	assert.NotErrorIs(t, err, rollout.ErrPermanent)
}

// A failing Slack (5xx, rate limits) is retried by the activity; each
// attempt fails fast, so the retries stay within the activity's bound.
func TestErroringSlackIsRetryable(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		s := slacktest.NewTestServer(func(c slacktest.Customize) {
			c.Handle("/chat.postMessage", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(status)
			})
		})
		s.Start()
		n, err := New("xoxb-test", "#deploys", s.GetAPIURL())
		require.NoError(t, err)
		_, err = n.Notify(context.Background(), note())
		s.Stop()
		require.Error(t, err, status)
		assert.NotErrorIs(t, err, rollout.ErrPermanent, status)
	}
}

// A Slack that accepts the request and never answers costs the rollout one
// timeout, not one per attempt: the failure is permanent, so the activity
// does not try again.
func TestHungSlackIsGivenUpOnAfterOneTimeout(t *testing.T) {
	release := make(chan struct{})
	s := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
	})
	s.Start()
	t.Cleanup(s.Stop)
	t.Cleanup(func() { close(release) })
	n, err := New("xoxb-test", "#deploys", s.GetAPIURL(), WithTimeout(300*time.Millisecond))
	require.NoError(t, err)
	start := time.Now()
	_, err = n.Notify(context.Background(), note())
	took := time.Since(start)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.Contains(t, err.Error(), "no answer within 300ms")
	assert.Less(t, took, 5*time.Second, "bounded by the notifier's timeout")
}

func TestTheDefaultTimeoutIsShorterThanTheActivitysAttempt(t *testing.T) {
	// workflows/options.go gives a notification 30 s an attempt: a hung
	// Slack must be given up on (permanently) before the attempt times out
	// and is retried.
	assert.Less(t, DefaultTimeout, 30*time.Second)
}

func TestNeedsAToken(t *testing.T) {
	_, err := New("", "#x", "")
	assert.ErrorContains(t, err, "bot token is required")
}

func TestTextIsEscapedAndRedacted(t *testing.T) {
	var p posted
	s := server(t, &p, slackLike)
	n, err := New("xoxb-test", "#deploys", s.GetAPIURL())
	require.NoError(t, err)
	msg := note()
	msg.Title = "<!channel> rollback of a&b"
	msg.Text = "aborted by <@U123>: see <http://evil.example|click here> & query http://prom:9090/?token=s3cret > now"
	msg.Event = "<!here>"
	msg.App, msg.Namespace, msg.Stable, msg.Canary = "<!subteam^S1>", "<@U9>", "<http://x|v1>", "v2&"
	msg.StepCount = 3
	msg.Measurement = &rollout.Measurement{Verdict: rollout.Failed, Reasons: []string{"<!everyone> via http://u:pw@host/x"},
		Sample: rollout.Sample{Canary: rollout.NoData(), Stable: rollout.NoData()}}
	_, err = n.Notify(context.Background(), msg)
	require.NoError(t, err)
	got := p.all()[0]
	assert.Equal(t, "&lt;!channel&gt; rollback of a&amp;b", got.Get("text"))
	raw := texts(t, got)
	assert.Contains(t, raw, "aborted by &lt;@U123&gt;: see &lt;http://evil.example|click here&gt; &amp; query http://prom:9090/?token=xxxxx &gt; now")
	for _, s := range []string{got.Get("text"), raw} {
		// The one "<!" is the date, which Slack formats per reader.
		assert.NotContains(t, strings.ReplaceAll(s, "<!date^", ""), "<!")
		assert.NotContains(t, s, "<@")
		assert.NotContains(t, s, "<http")
	}
	form := got.Encode()
	assert.NotContains(t, form, "s3cret")
	assert.NotContains(t, form, "pw%40", "userinfo is redacted")
}
