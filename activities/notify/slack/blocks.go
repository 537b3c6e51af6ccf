package slack

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/canaryflow/canaryflow/rollout"
)

// Slack's Block Kit limits, in characters; text past them makes Slack
// refuse the whole message, so everything is clipped below them.
const (
	maxHeader    = 150
	maxSection   = 3000
	maxField     = 2000
	maxReasons   = 5
	maxContext   = 2000
	approvalWord = "approval-needed"
)

// escaper applies Slack's mrkdwn escaping: &, < and > are the only
// characters Slack treats as control sequences (<!channel>, <http://x|y>,
// <@U123>), and the entities are what it documents in their place.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// text makes free text safe to post in a text object (mrkdwn or
// plain_text: Slack decodes the entities in both): URLs redacted (a reason
// may quote one from an error), then escaped, so a reason or an abort note
// cannot ping a channel or show a disguised link, then clipped to n bytes.
func text(s string, n int) string {
	return rollout.Clip(escaper.Replace(rollout.RedactText(s)), n)
}

// icons put the event's severity where the attachment colour used to be.
var icons = map[string]string{
	"started": "🚀", approvalWord: "✋", "promoted": "✅", "cleanup-failed": "⚠️",
	string(rollout.PhaseRolledBack): "⏪", string(rollout.PhaseRollbackFailed): "🚨",
}

func icon(n rollout.Notification) string {
	if i, ok := icons[n.Event]; ok {
		return i
	}
	switch n.Severity {
	case "critical":
		return "🔴"
	case "warning":
		return "⚠️"
	}
	return "ℹ️"
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// blocks renders n as a Block Kit message: a header, the text, the
// rollout's position as fields, the figures of the last measurement when
// the rollout stopped, the Approve and Abort buttons when it waits for a
// person, and a context line naming the rollout.
func blocks(n rollout.Notification) []slack.Block {
	out := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, text(icon(n)+" "+n.Title, maxHeader), true, false)),
	}
	if strings.TrimSpace(n.Text) != "" {
		out = append(out, slack.NewSectionBlock(mrkdwn(text(n.Text, maxSection)), nil, nil))
	}
	out = append(out, slack.NewSectionBlock(nil, fields(n), nil))
	if m := n.Measurement; m != nil && n.Severity != "info" {
		out = append(out, measurement(*m)...)
	}
	if n.Event == approvalWord {
		if b := buttons(n); b != nil {
			out = append(out, b)
		}
	}
	ctx := fmt.Sprintf("rollout `%s` · %s", text(n.RolloutID, 256), text(n.Event, 64))
	if !n.At.IsZero() {
		// Slack shows the date in each reader's time zone; the fallback is UTC.
		ctx += fmt.Sprintf(" · <!date^%d^{date_short_pretty} {time_secs}|%s>", n.At.Unix(), n.At.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	return append(out, slack.NewContextBlock("", mrkdwn(rollout.Clip(ctx, maxContext))))
}

// fields are the rollout's identity and position, as far as n carries them.
func fields(n rollout.Notification) []*slack.TextBlockObject {
	f := []*slack.TextBlockObject{
		mrkdwn("*App*\n" + text(n.App, 256)),
		mrkdwn("*Namespace*\n" + text(n.Namespace, 256)),
	}
	if n.Stable != "" || n.Canary != "" {
		f = append(f, mrkdwn(text(fmt.Sprintf("*Versions*\n%s → %s", orDash(n.Stable), orDash(n.Canary)), maxField)))
	}
	if n.StepCount > 0 {
		f = append(f, mrkdwn(fmt.Sprintf("*Step*\n%d/%d", n.Step, n.StepCount)),
			mrkdwn(fmt.Sprintf("*Canary weight*\n%d%%", n.Weight)))
	}
	return f
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// measurement shows the figures a stopped rollout was judged on, canary
// beside stable, and the reasons of the verdict. The queries stay out: the
// status and the incident report have them.
func measurement(m rollout.Measurement) []slack.Block {
	c, s := m.Sample.Canary, m.Sample.Stable
	pair := func(title string, cv, sv rollout.Value, scale float64, format string) *slack.TextBlockObject {
		return mrkdwn(fmt.Sprintf("*%s*\ncanary %s · stable %s", title, cv.Format(scale, format), sv.Format(scale, format)))
	}
	f := []*slack.TextBlockObject{
		mrkdwn(text(fmt.Sprintf("*Last measurement*\n%s at %d%% canary weight", m.Verdict, m.Weight), maxField)),
		pair("Error rate", c.ErrorRate, s.ErrorRate, 100, "%.2f%%"),
		pair("p95 latency", c.P95, s.P95, 1000, "%.0f ms"),
		pair("p99 latency", c.P99, s.P99, 1000, "%.0f ms"),
		pair("Requests", c.RequestRate, s.RequestRate, 1, "%.2f/s"),
	}
	out := []slack.Block{slack.NewDividerBlock(), slack.NewSectionBlock(nil, f, nil)}
	if len(m.Reasons) > 0 {
		rs := m.Reasons
		more := ""
		if len(rs) > maxReasons {
			more = fmt.Sprintf("…and %d more", len(rs)-maxReasons)
			rs = rs[:maxReasons]
		}
		var b strings.Builder
		for _, r := range rs {
			b.WriteString("• " + text(r, 400) + "\n")
		}
		out = append(out, slack.NewSectionBlock(mrkdwn(rollout.Clip(b.String()+more, maxSection)), nil, nil))
	}
	return out
}

// buttons are Approve (for the step that waits) and Abort, answered by the
// Socket Mode handler. A rollout whose ID is not one the handler would
// accept gets none rather than buttons that can only be refused.
func buttons(n rollout.Notification) slack.Block {
	if checkWorkflowID(n.RolloutID) != nil {
		return nil
	}
	approveLabel := "Approve"
	if n.Step > 0 {
		approveLabel = fmt.Sprintf("Approve step %d", n.Step)
	}
	approve := slack.NewButtonBlockElement(ActionApprove, approveValue(n.RolloutID, n.Step),
		slack.NewTextBlockObject(slack.PlainTextType, approveLabel, false, false)).WithStyle(slack.StylePrimary)
	abort := slack.NewButtonBlockElement(ActionAbort, n.RolloutID,
		slack.NewTextBlockObject(slack.PlainTextType, "Abort", false, false)).WithStyle(slack.StyleDanger).
		WithConfirm(slack.NewConfirmationBlockObject(
			slack.NewTextBlockObject(slack.PlainTextType, "Abort the rollout?", false, false),
			mrkdwn(text(fmt.Sprintf("Traffic goes back to stable and the canary of %s/%s is removed.", n.Namespace, n.App), 300)),
			slack.NewTextBlockObject(slack.PlainTextType, "Abort", false, false),
			slack.NewTextBlockObject(slack.PlainTextType, "Keep waiting", false, false)))
	return slack.NewActionBlock("canaryflow.approval", approve, abort)
}
