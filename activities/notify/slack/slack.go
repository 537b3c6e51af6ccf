// Package slack posts rollout notifications to a Slack channel, the way the
// reference system's team was told of rollouts and rollbacks: one thread per
// rollout, Block Kit messages, and Approve/Abort buttons when a rollout waits
// for a person (answered by package slackapp over Socket Mode).
package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/canaryflow/canaryflow/rollout"
)

// DefaultTimeout bounds one post to Slack. A notification must never hold a
// rollout up, so a Slack that does not answer in time is given up on at
// once (not retried): a hung Slack costs a rollout at most this long per
// notification.
const DefaultTimeout = 10 * time.Second

// threadSeparator joins the channel ID and the timestamp in a thread
// handle; neither contains it.
const threadSeparator = "/"

// Notifier posts to Slack with a bot token.
type Notifier struct {
	client *slack.Client
	// channel is used when a spec names none.
	channel string
	timeout time.Duration
}

// Option adjusts a Notifier.
type Option func(*Notifier)

// WithTimeout replaces DefaultTimeout (tests of a hung Slack).
func WithTimeout(d time.Duration) Option { return func(n *Notifier) { n.timeout = d } }

// New returns a Notifier; apiURL overrides Slack's API (tests, proxies) when non-empty.
func New(token, defaultChannel, apiURL string, opts ...Option) (*Notifier, error) {
	if token == "" {
		return nil, errors.New("slack notifier: a bot token is required")
	}
	n := &Notifier{channel: defaultChannel, timeout: DefaultTimeout}
	for _, o := range opts {
		o(n)
	}
	// The client's own timeout backs up the context's: a response body
	// that trickles in is cut off too.
	sopts := []slack.Option{slack.OptionHTTPClient(&http.Client{Timeout: n.timeout})}
	if apiURL != "" {
		sopts = append(sopts, slack.OptionAPIURL(apiURL))
	}
	n.client = slack.New(token, sopts...)
	return n, nil
}

// Notify posts n and returns the rollout's thread handle. The first message
// of a rollout (n.Thread empty) starts a thread in the spec's channel (or
// the worker's); every later one replies in it, and outcomes and requests
// for approval are also shown in the channel. Errors Slack will keep giving
// (bad token, unknown channel) and a Slack that did not answer in time are
// marked permanent; rate limits and failed connections are left for the
// activity's retries.
func (s *Notifier) Notify(ctx context.Context, n rollout.Notification) (string, error) {
	channel, ts, threaded := parseThread(n.Thread)
	if !threaded {
		channel = n.Channel
		if channel == "" {
			channel = s.channel
		}
		if channel == "" {
			return "", fmt.Errorf("posting to slack: no channel in the spec (notify.channel) or the worker: %w", rollout.ErrPermanent)
		}
	}
	opts := []slack.MsgOption{
		// The text is what notifications and screen readers show.
		slack.MsgOptionText(text(n.Title, maxSection), false),
		slack.MsgOptionBlocks(blocks(n)...),
	}
	if threaded {
		opts = append(opts, slack.MsgOptionTS(ts))
		if broadcast(n) {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	gotChannel, gotTS, err := s.client.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return "", s.classify(ctx, channel, err)
	}
	if threaded {
		return n.Thread, nil
	}
	if gotChannel == "" || gotTS == "" {
		// Posted, but nothing to thread on: the next message starts afresh.
		return "", nil
	}
	return gotChannel + threadSeparator + gotTS, nil
}

// broadcast says whether a reply is shown in the channel too: the outcome
// and a request for a person's decision must not hide in a thread.
func broadcast(n rollout.Notification) bool {
	return n.Event == approvalWord || n.Event == "promoted" || n.Severity == "warning" || n.Severity == "critical"
}

// parseThread splits a handle Notify returned. Anything else (a handle
// from another notifier, or damaged) starts a new thread rather than
// failing: a thread is a nicety, the message is what matters.
func parseThread(h string) (channel, ts string, ok bool) {
	channel, ts, ok = strings.Cut(h, threadSeparator)
	if !ok || !isChannelID(channel) || !isTimestamp(ts) {
		return "", "", false
	}
	return channel, ts, true
}

// isChannelID accepts Slack conversation IDs (C…, G…, D…): upper-case
// letters and digits.
func isChannelID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isTimestamp accepts Slack message timestamps: digits, one dot, digits.
func isTimestamp(s string) bool {
	sec, frac, ok := strings.Cut(s, ".")
	digits := func(d string) bool { return d != "" && len(d) <= 20 && strings.Trim(d, "0123456789") == "" }
	return ok && digits(sec) && digits(frac)
}

// classify wraps a failed post, marking what retrying cannot fix.
func (s *Notifier) classify(ctx context.Context, channel string, err error) error {
	var rate *slack.RateLimitedError
	var resp slack.SlackErrorResponse
	refused := !errors.As(err, &rate) && errors.As(err, &resp)
	// Our own deadline, not the activity's: Slack hangs, and another
	// attempt would hold the rollout up as long again.
	var nerr net.Error
	hung := errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout()
	// Classified first: the redacted error no longer unwraps to slack's types.
	err = rollout.RedactError(err)
	switch {
	case refused:
		return fmt.Errorf("posting to slack channel %s: %w: %w", channel, err, rollout.ErrPermanent)
	case hung:
		return fmt.Errorf("posting to slack channel %s: no answer within %s, not retried so the rollout goes on: %w: %w", channel, s.timeout, err, rollout.ErrPermanent)
	}
	return fmt.Errorf("posting to slack channel %s: %w", channel, err)
}
