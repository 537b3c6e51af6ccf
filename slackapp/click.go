package slackapp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"go.temporal.io/api/serviceerror"

	notifyslack "github.com/canaryflow/canaryflow/activities/notify/slack"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/rollout"
)

// maxReply bounds the text of a reply; a rollout's answer or refusal is a
// sentence, so more is clipped rather than posted.
const maxReply = 1500

// escaper is Slack's mrkdwn escaping (see package notify/slack): answers
// and refusals quote outside text.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func quote(s string) string {
	return rollout.Clip(escaper.Replace(rollout.RedactText(s)), maxReply)
}

// where is the conversation a click came from, for replies.
type where struct {
	channel, thread, message, user string
}

func origin(cb slack.InteractionCallback) where {
	w := where{channel: cb.Channel.ID, message: cb.Container.MessageTs, user: cb.User.ID}
	if w.channel == "" {
		w.channel = cb.Container.ChannelID
	}
	if w.message == "" {
		w.message = cb.Message.Timestamp
	}
	// A message in a thread replies in that thread; a thread's first
	// message starts one.
	for _, ts := range []string{cb.Container.ThreadTs, cb.Message.ThreadTimestamp, w.message} {
		if ts != "" {
			w.thread = ts
			break
		}
	}
	return w
}

// click applies one button click. The value is checked before anything
// else (it is whatever the sender put there), the user must be an approver
// when the worker names some, and the rollout's answer or refusal is
// posted back: an applied action in the thread for everyone to see, a
// refusal to the clicking user only.
func (a *App) click(parent context.Context, cb slack.InteractionCallback, ba slack.BlockAction) {
	// A click in hand when the worker stops is still answered.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), a.timeout)
	defer cancel()
	w := origin(cb)
	log := a.log.With("user", cb.User.ID, "channel", w.channel)
	act, err := notifyslack.ParseAction(ba.ActionID, ba.Value)
	if err != nil {
		log.Warn("refused a slack button click", "err", err)
		a.ephemeral(ctx, w, "Nothing was done: this button does not name a canaryflow rollout.")
		return
	}
	log = log.With("rollout", act.WorkflowID, "action", act.Name)
	by, ok := who(cb.User)
	if !ok {
		log.Warn("refused a slack button click without a valid user ID")
		return
	}
	if len(a.approvers) > 0 && !a.approvers[cb.User.ID] {
		log.Warn("refused a slack button click from a user who is not an approver")
		a.ephemeral(ctx, w, fmt.Sprintf("Nothing was done: you are not among this worker's approvers for %s.", act.WorkflowID))
		return
	}
	var payload any
	var did string
	switch act.Name {
	case rollout.SignalApprove:
		payload = rollout.Approval{Step: act.Step, By: by}
		did = "approved"
		if act.Step != nil {
			did = fmt.Sprintf("approved step %d", *act.Step)
		}
	default:
		payload = rollout.Abort{Reason: "aborted from Slack", By: by}
		did = "aborted the rollout"
	}
	answer, err := a.act(ctx, act.WorkflowID, act.Name, payload)
	switch {
	case errors.Is(err, control.ErrRefused):
		log.Info("the rollout refused a slack button click", "err", err)
		a.ephemeral(ctx, w, "Not done: "+quote(err.Error()))
		return
	case isGone(err):
		log.Info("a slack button click for a rollout that is not running", "err", err)
		a.ephemeral(ctx, w, fmt.Sprintf("Nothing was done: %s is not running any more (it has ended, or never started).", act.WorkflowID))
		return
	case err != nil:
		log.Error("applying a slack button click", "err", err)
		a.ephemeral(ctx, w, fmt.Sprintf("Could not reach the rollout (%s); nothing was done. The CLI does the same: `starter %s --id %s`.",
			quote(err.Error()), act.Name, act.WorkflowID))
		return
	}
	log.Info("applied a slack button click", "answer", answer)
	text := fmt.Sprintf("<@%s> %s", cb.User.ID, did)
	if answer != "" {
		text += ": " + quote(answer)
	}
	if _, _, err := a.api.PostMessageContext(ctx, w.channel, slack.MsgOptionTS(w.thread), slack.MsgOptionText(text, false)); err != nil {
		log.Warn("replying in the rollout's slack thread", "err", rollout.RedactError(err))
	}
	a.settle(ctx, cb, w, text)
}

// isGone tells a rollout that has ended (or never was) from a Temporal
// that cannot be reached: the first is an answer, the second a failure.
func isGone(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// who names the clicking user for the rollout's audit trail:
// "slack:<name> (<ID>)", or "slack:<ID>" when Slack sent no usable name.
func who(u slack.User) (string, bool) {
	if !isSlackID(u.ID) {
		return "", false
	}
	name := u.Name
	if name == "" {
		name = u.Profile.DisplayName
	}
	if name == "" || len(name) > 64 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
		return "slack:" + u.ID, true
	}
	return fmt.Sprintf("slack:%s (%s)", name, u.ID), true
}

// isSlackID accepts Slack's user IDs (U…, W…): upper-case letters and digits.
func isSlackID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	return strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == ""
}

// ephemeral tells the clicking user alone, in the thread.
func (a *App) ephemeral(ctx context.Context, w where, text string) {
	if w.channel == "" || !isSlackID(w.user) {
		return
	}
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if w.thread != "" {
		opts = append(opts, slack.MsgOptionTS(w.thread))
	}
	if _, err := a.api.PostEphemeralContext(ctx, w.channel, w.user, opts...); err != nil {
		a.log.Warn("answering a slack button click", "err", rollout.RedactError(err), "user", w.user)
	}
}

// settle replaces the buttons of the clicked message with who did what, so
// nobody clicks a question that has been answered. The message is ours;
// failing to edit it only leaves stale buttons, which the rollout refuses.
func (a *App) settle(ctx context.Context, cb slack.InteractionCallback, w where, text string) {
	if w.message == "" || len(cb.Message.Blocks.BlockSet) == 0 {
		return
	}
	var kept []slack.Block
	for _, b := range cb.Message.Blocks.BlockSet {
		if b.BlockType() != slack.MBTAction {
			kept = append(kept, b)
		}
	}
	kept = append(kept, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, text, false, false)))
	if _, _, _, err := a.api.UpdateMessageContext(ctx, w.channel, w.message,
		slack.MsgOptionText(cb.Message.Text, false), slack.MsgOptionBlocks(kept...)); err != nil {
		a.log.Warn("removing the buttons of an answered slack message", "err", rollout.RedactError(err))
	}
}
