// Package slack posts rollout notifications to a Slack channel, the way the
// reference system's team was told of rollouts and rollbacks.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/canaryflow/canaryflow/rollout"
)

// Notifier posts to Slack with a bot token.
type Notifier struct {
	client *slack.Client
	// channel is used when a spec names none.
	channel string
}

// New returns a Notifier; apiURL overrides Slack's API (tests, proxies) when non-empty.
func New(token, defaultChannel, apiURL string) (*Notifier, error) {
	if token == "" {
		return nil, errors.New("slack notifier: a bot token is required")
	}
	var opts []slack.Option
	if apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return &Notifier{client: slack.New(token, opts...), channel: defaultChannel}, nil
}

var colors = map[string]string{"info": "good", "warning": "warning", "critical": "danger"}

// escaper applies Slack's mrkdwn escaping: &, < and > are the only
// characters Slack treats as control sequences (<!channel>, <http://x|y>,
// <@U123>), and the entities are what it documents in their place.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// text makes free text safe to post: URLs redacted (a reason may quote one
// from an error), then escaped, so a reason or an abort note cannot ping a
// channel or show a disguised link.
func text(s string) string { return escaper.Replace(rollout.RedactText(s)) }

// Notify posts n as a message with a coloured attachment. Errors Slack will
// keep giving (bad token, unknown channel) are marked permanent; rate limits
// and transport errors are left for the activity's retries.
func (s *Notifier) Notify(ctx context.Context, n rollout.Notification) error {
	channel := n.Channel
	if channel == "" {
		channel = s.channel
	}
	if channel == "" {
		return fmt.Errorf("posting to slack: no channel in the spec (notify.channel) or the worker: %w", rollout.ErrPermanent)
	}
	att := slack.Attachment{
		Color: colors[n.Severity],
		Text:  text(n.Text),
		Fields: []slack.AttachmentField{
			{Title: "Rollout", Value: text(n.RolloutID), Short: true},
			{Title: "Event", Value: text(n.Event), Short: true},
		},
		Ts: json.Number(strconv.FormatInt(n.At.Unix(), 10)),
	}
	_, _, err := s.client.PostMessageContext(ctx, channel, slack.MsgOptionText(text(n.Title), false), slack.MsgOptionAttachments(att))
	if err == nil {
		return nil
	}
	var rate *slack.RateLimitedError
	var resp slack.SlackErrorResponse
	permanent := !errors.As(err, &rate) && errors.As(err, &resp)
	// Classified first: the redacted error no longer unwraps to slack's types.
	err = rollout.RedactError(err)
	if permanent {
		return fmt.Errorf("posting to slack channel %s: %w: %w", channel, err, rollout.ErrPermanent)
	}
	return fmt.Errorf("posting to slack channel %s: %w", channel, err)
}
