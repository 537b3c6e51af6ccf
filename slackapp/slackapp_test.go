package slackapp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	notifyslack "github.com/canaryflow/canaryflow/activities/notify/slack"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/rollout"
)

// call is one action the handler applied.
type call struct {
	id, name string
	payload  any
}

// recorder stands in for control.Act: it records calls and answers with
// answer.
type recorder struct {
	mu     sync.Mutex
	calls  []call
	answer func(call) (string, error)
}

func (r *recorder) act(_ context.Context, id, name string, payload any) (string, error) {
	c := call{id, name, payload}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	if r.answer == nil {
		return "done", nil
	}
	return r.answer(c)
}

func (r *recorder) all() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// startApp runs a handler against f until the test ends.
func startApp(t *testing.T, f *fakeSlack, cfg Config) {
	cfg.AppToken, cfg.BotToken, cfg.APIURL = "xapp-1-test", "xoxb-test", f.apiURL()
	app, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("the handler did not stop within 10 s of its context ending")
		}
	})
	require.Eventually(t, func() bool { return f.connections() > 0 }, 10*time.Second, 10*time.Millisecond, "the handler opens a Socket Mode connection")
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	require.Eventually(t, ok, 10*time.Second, 10*time.Millisecond, what)
}

// approvalBlocks is the approval message as the notifier writes it, read
// back as Slack sends it in the interaction's message.
var approvalBlocks = json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"step 2 waits"}},
{"type":"actions","block_id":"canaryflow.approval","elements":[{"type":"button","action_id":"canaryflow.approve","value":"canary-prod.shop@2","text":{"type":"plain_text","text":"Approve"}}]}]`)

func TestAnApproveClickIsAcknowledgedAppliedAndAnsweredInTheThread(t *testing.T) {
	f := startFakeSlack(t)
	rec := &recorder{answer: func(call) (string, error) { return "step 2 approved; the rollout goes on", nil }}
	startApp(t, f, Config{Act: rec.act})

	env := f.click("U123", notifyslack.ActionApprove, "canary-prod.shop@2", "1700000000.000003", "1700000000.000001", approvalBlocks)
	eventually(t, "the envelope is acknowledged", func() bool { return f.acked(env) })
	eventually(t, "the click is applied", func() bool { return len(rec.all()) == 1 })
	c := rec.all()[0]
	assert.Equal(t, "canary-prod.shop", c.id)
	assert.Equal(t, rollout.SignalApprove, c.name)
	require.IsType(t, rollout.Approval{}, c.payload)
	ap := c.payload.(rollout.Approval)
	require.NotNil(t, ap.Step)
	assert.Equal(t, 2, *ap.Step)
	assert.Equal(t, "slack:alice (U123)", ap.By)

	eventually(t, "the answer is posted in the thread", func() bool { return len(f.sent("chat.postMessage")) == 1 })
	reply := f.sent("chat.postMessage")[0]
	assert.Equal(t, "C0DEPLOYS", reply.Get("channel"))
	assert.Equal(t, "1700000000.000001", reply.Get("thread_ts"))
	assert.Equal(t, "<@U123> approved step 2: step 2 approved; the rollout goes on", reply.Get("text"))

	eventually(t, "the buttons are replaced by who clicked", func() bool { return len(f.sent("chat.update")) == 1 })
	upd := f.sent("chat.update")[0]
	assert.Equal(t, "1700000000.000003", upd.Get("ts"))
	assert.NotContains(t, upd.Get("blocks"), `"actions"`)
	assert.Contains(t, upd.Get("blocks"), "approved step 2")
	assert.Empty(t, f.sent("chat.postEphemeral"))
}

func TestAnAbortClickAbortsWithTheUserAsBy(t *testing.T) {
	f := startFakeSlack(t)
	rec := &recorder{}
	startApp(t, f, Config{Act: rec.act})
	f.click("U123", notifyslack.ActionAbort, "canary-prod.shop", "1700000000.000003", "", nil)
	eventually(t, "the click is applied", func() bool { return len(rec.all()) == 1 })
	c := rec.all()[0]
	assert.Equal(t, rollout.SignalAbort, c.name)
	assert.Equal(t, rollout.Abort{Reason: "aborted from Slack", By: "slack:alice (U123)"}, c.payload)
	eventually(t, "the answer is posted", func() bool { return len(f.sent("chat.postMessage")) == 1 })
	assert.Equal(t, "1700000000.000003", f.sent("chat.postMessage")[0].Get("thread_ts"), "a message outside a thread starts one")
}

func TestARefusalIsToldToTheClickingUserAlone(t *testing.T) {
	f := startFakeSlack(t)
	rec := &recorder{answer: func(c call) (string, error) {
		return "", fmt.Errorf("approve %s: %w: step 2 does not wait for approval (step 3 does) <!channel>", c.id, control.ErrRefused)
	}}
	startApp(t, f, Config{Act: rec.act})
	f.click("U123", notifyslack.ActionApprove, "canary-prod.shop@2", "1700000000.000003", "1700000000.000001", nil)
	eventually(t, "the refusal is told", func() bool { return len(f.sent("chat.postEphemeral")) == 1 })
	e := f.sent("chat.postEphemeral")[0]
	assert.Equal(t, "U123", e.Get("user"))
	assert.Equal(t, "1700000000.000001", e.Get("thread_ts"))
	assert.Contains(t, e.Get("text"), "Not done: approve canary-prod.shop: refused: step 2 does not wait for approval (step 3 does) &lt;!channel&gt;")
	assert.Empty(t, f.sent("chat.postMessage"), "nothing is said in the thread")
	assert.Empty(t, f.sent("chat.update"), "the buttons stay")
}

func TestAnUnreachableRolloutIsToldAndNothingElse(t *testing.T) {
	f := startFakeSlack(t)
	rec := &recorder{answer: func(call) (string, error) {
		return "", fmt.Errorf("sending approve to canary-prod.shop: %w", context.DeadlineExceeded)
	}}
	startApp(t, f, Config{Act: rec.act})
	f.click("U123", notifyslack.ActionApprove, "canary-prod.shop", "1700000000.000003", "", nil)
	eventually(t, "the failure is told", func() bool { return len(f.sent("chat.postEphemeral")) == 1 })
	assert.Contains(t, f.sent("chat.postEphemeral")[0].Get("text"), "Could not reach the rollout")
	assert.Contains(t, f.sent("chat.postEphemeral")[0].Get("text"), "`starter approve --id canary-prod.shop`")
}

// A button's value is whatever the sender of the interaction put there:
// nothing that is not one of ours reaches Temporal.
func TestHostileClicksNeverReachTemporal(t *testing.T) {
	f := startFakeSlack(t)
	rec := &recorder{}
	startApp(t, f, Config{Act: rec.act})
	hostile := []struct{ action, value string }{
		{notifyslack.ActionApprove, strings.Repeat("canary-prod.shop", 1000)},
		{notifyslack.ActionApprove, "canary-prod.shop@" + strings.Repeat("9", 50)},
		{notifyslack.ActionApprove, "rollout-prod.shop"},
		{notifyslack.ActionApprove, "temporal-sys-history-scanner"},
		{notifyslack.ActionAbort, "canary-prod.shop.x"},
		{notifyslack.ActionAbort, "canary-prod.shop\"}],\"by\":\"root"},
		{notifyslack.ActionAbort, "canary-prod.shop; rm -rf /"},
		{notifyslack.ActionAbort, "canary-te_2fam.shop"},
		{notifyslack.ActionApprove, "canary-prod.shop@0"},
		{"canaryflow.promote", "canary-prod.shop"},
		{"other_app_button", "canary-prod.shop"},
	}
	var envs []string
	for _, h := range hostile {
		envs = append(envs, f.click("U123", h.action, h.value, "1700000000.000003", "", nil))
	}
	eventually(t, "every envelope is acknowledged", func() bool {
		for _, e := range envs {
			if !f.acked(e) {
				return false
			}
		}
		return true
	})
	eventually(t, "every click is answered", func() bool { return len(f.sent("chat.postEphemeral")) == len(hostile) })
	for _, e := range f.sent("chat.postEphemeral") {
		assert.Equal(t, "Nothing was done: this button does not name a canaryflow rollout.", e.Get("text"))
	}
	assert.Empty(t, rec.all(), "Temporal was never called")
	assert.Empty(t, f.sent("chat.postMessage"))
}

func TestAClickWithoutAUserIsDropped(t *testing.T) {
	f := startFakeSlack(t)
	rec := &recorder{}
	startApp(t, f, Config{Act: rec.act})
	for _, user := range []string{"", "u123", "U1<!here>", strings.Repeat("U", 40)} {
		env := f.click(user, notifyslack.ActionApprove, "canary-prod.shop", "1700000000.000003", "", nil)
		eventually(t, "the envelope is acknowledged", func() bool { return f.acked(env) })
	}
	// A valid click after them is handled, so the ones before were seen.
	f.click("U9", notifyslack.ActionAbort, "canary-prod.shop", "1700000000.000003", "", nil)
	eventually(t, "the valid click is applied", func() bool { return len(rec.all()) == 1 })
	assert.Equal(t, "slack:alice (U9)", rec.all()[0].payload.(rollout.Abort).By)
}

func TestOnlyApproversClicksAreApplied(t *testing.T) {
	f := startFakeSlack(t)
	rec := &recorder{}
	startApp(t, f, Config{Act: rec.act, Approvers: []string{"U1", " U2 "}})
	f.click("U3", notifyslack.ActionApprove, "canary-prod.shop", "1700000000.000003", "", nil)
	eventually(t, "the outsider is told", func() bool { return len(f.sent("chat.postEphemeral")) == 1 })
	assert.Contains(t, f.sent("chat.postEphemeral")[0].Get("text"), "you are not among this worker's approvers")
	assert.Empty(t, rec.all())
	f.click("U2", notifyslack.ActionApprove, "canary-prod.shop", "1700000000.000003", "", nil)
	eventually(t, "an approver's click is applied", func() bool { return len(rec.all()) == 1 })
}

func TestNewNeedsBothTokensAndAWayToAct(t *testing.T) {
	rec := &recorder{}
	_, err := New(Config{AppToken: "xoxb-wrong-kind", BotToken: "xoxb-test", Act: rec.act})
	assert.ErrorContains(t, err, "xapp- token")
	_, err = New(Config{AppToken: "xapp-1", Act: rec.act})
	assert.ErrorContains(t, err, "bot token is required")
	_, err = New(Config{AppToken: "xapp-1", BotToken: "xoxb-test"})
	assert.ErrorContains(t, err, "Temporal client is required")
}

func TestTheAppLevelTokenOpensTheConnection(t *testing.T) {
	f := startFakeSlack(t)
	startApp(t, f, Config{Act: (&recorder{}).act})
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(t, f.appTokens)
	assert.Equal(t, "Bearer xapp-1-test", f.appTokens[0])
}
