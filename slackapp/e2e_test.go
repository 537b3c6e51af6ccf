package slackapp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/activities"
	notifyslack "github.com/canaryflow/canaryflow/activities/notify/slack"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/internal/memengine"
	"github.com/canaryflow/canaryflow/rollout"
)

// gatedSpec goes to 10 % and waits for a person, announcing to Slack.
func gatedSpec(app string) rollout.Spec {
	return rollout.Spec{
		Version: rollout.FormatV1, App: app, Namespace: "it",
		Stable: rollout.Release{Version: "v1"}, Canary: rollout.Release{Version: "v2"},
		Deploy: rollout.Deploy{Kind: "memory"}, Traffic: rollout.Traffic{Kind: "memory"},
		Metrics: rollout.Metrics{Kind: "memory"}, Smoke: rollout.Smoke{Skip: true},
		Notify:   rollout.Notify{Kind: "slack", Channel: "#deploys"},
		Steps:    []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, "")},
		Analysis: rollout.Analysis{Interval: rollout.Duration(time.Second)},
	}
}

// startEngine runs a real Temporal dev server and an in-process worker
// with in-memory providers whose notifier posts to f.
func startEngine(t *testing.T, f *fakeSlack) client.Client {
	e := memengine.New(t)
	notifier, err := notifyslack.New("xoxb-test", "", f.apiURL())
	require.NoError(t, err)
	e.Activities.Notifiers = map[string]activities.Notifier{"slack": notifier}
	e.StartWorker(t, nil)
	return e.Client
}

// button finds the button actionID on the approval message the rollout
// posted, as Slack would show it, and the message's blocks.
func button(t *testing.T, f *fakeSlack, rolloutID, actionID string) (value string, blocks json.RawMessage, ok bool) {
	t.Helper()
	for _, m := range f.sent("chat.postMessage") {
		raw := m.Get("blocks")
		if !strings.Contains(raw, rolloutID) {
			continue
		}
		var bs []struct {
			Type     string `json:"type"`
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			} `json:"elements"`
		}
		require.NoError(t, json.Unmarshal([]byte(raw), &bs))
		for _, b := range bs {
			for _, e := range b.Elements {
				if b.Type == "actions" && e.ActionID == actionID {
					return e.Value, json.RawMessage(raw), true
				}
			}
		}
	}
	return "", nil, false
}

func waitPhase(ctx context.Context, t *testing.T, c client.Client, id string, want rollout.Phase) rollout.Status {
	t.Helper()
	var last rollout.Status
	require.Eventually(t, func() bool {
		s, err := control.Status(ctx, c, id)
		if err == nil {
			last = s
		}
		return err == nil && s.Phase == want
	}, time.Minute, 100*time.Millisecond, "waiting for %s to be %s", id, want)
	return last
}

// The buttons of the message a real rollout posts, clicked over a Socket
// Mode connection, approve and abort that rollout on a real Temporal server.
func TestSlackButtonsActOnARealRollout(t *testing.T) {
	f := startFakeSlack(t)
	c := startEngine(t, f)
	startApp(t, f, Config{Temporal: c})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("approve", func(t *testing.T) {
		run, err := control.Start(ctx, c, gatedSpec("slack-approve"), "it")
		require.NoError(t, err)
		waitPhase(ctx, t, c, run.GetID(), rollout.PhaseAwaitApproval)
		var value string
		var blocks json.RawMessage
		require.Eventually(t, func() bool {
			var ok bool
			value, blocks, ok = button(t, f, run.GetID(), notifyslack.ActionApprove)
			return ok
		}, 30*time.Second, 50*time.Millisecond, "the rollout posts an approval message with an Approve button")
		f.click("U123", notifyslack.ActionApprove, value, "1700000100.000099", "", blocks)

		res, err := control.Wait(ctx, c, run.GetID())
		require.NoError(t, err)
		assert.Equal(t, rollout.PhasePromoted, res.Phase)
		s, err := control.Status(ctx, c, run.GetID())
		require.NoError(t, err)
		assert.Contains(t, s.ApprovedBy, "slack:alice (U123)")
		eventually(t, "the answer is posted in the thread", func() bool {
			for _, m := range f.sent("chat.postMessage") {
				if strings.HasPrefix(m.Get("text"), "<@U123> approved") && m.Get("thread_ts") == "1700000100.000099" {
					return true
				}
			}
			return false
		})
	})

	t.Run("abort", func(t *testing.T) {
		run, err := control.Start(ctx, c, gatedSpec("slack-abort"), "it")
		require.NoError(t, err)
		waitPhase(ctx, t, c, run.GetID(), rollout.PhaseAwaitApproval)
		var value string
		require.Eventually(t, func() bool {
			var ok bool
			value, _, ok = button(t, f, run.GetID(), notifyslack.ActionAbort)
			return ok
		}, 30*time.Second, 50*time.Millisecond, "the approval message has an Abort button")
		// An approval of a step that does not wait is refused by the
		// rollout itself, and told to the user alone.
		before := len(f.sent("chat.postEphemeral"))
		f.click("U456", notifyslack.ActionApprove, run.GetID()+"@1", "1700000100.000098", "", nil)
		eventually(t, "the refusal is told to the user", func() bool { return len(f.sent("chat.postEphemeral")) > before })
		assert.Contains(t, f.sent("chat.postEphemeral")[before].Get("text"), "Not done: approve "+run.GetID()+": refused: ")
		s := waitPhase(ctx, t, c, run.GetID(), rollout.PhaseAwaitApproval)
		assert.Empty(t, s.ApprovedBy)

		f.click("U456", notifyslack.ActionAbort, value, "1700000100.000098", "", nil)

		res, err := control.Wait(ctx, c, run.GetID())
		require.NoError(t, err)
		assert.Equal(t, rollout.PhaseRolledBack, res.Phase)
		s, err = control.Status(ctx, c, run.GetID())
		require.NoError(t, err)
		var by []string
		for _, e := range s.Events {
			by = append(by, e.By)
		}
		assert.Contains(t, by, "slack:alice (U456)", "the abort names the Slack user")
	})

	t.Run("a click on a rollout that has ended is answered", func(t *testing.T) {
		before := len(f.sent("chat.postEphemeral"))
		f.click("U123", notifyslack.ActionApprove, rollout.WorkflowID("it", "slack-approve"), "1700000100.000097", "", nil)
		eventually(t, "the refusal is told to the user", func() bool { return len(f.sent("chat.postEphemeral")) > before })
		e := f.sent("chat.postEphemeral")[before]
		assert.Equal(t, "U123", e.Get("user"))
		assert.Equal(t, "Nothing was done: canary-it.slack-approve is not running any more (it has ended, or never started).", e.Get("text"))
	})
}
