// Package slackapp answers the Approve and Abort buttons of canaryflow's
// Slack messages. It holds a Socket Mode connection (Slack calls out over a
// WebSocket the app opened, so the worker needs no public endpoint), checks
// each click, applies it with control.Act (the same Update the CLI sends,
// with the Slack user as "by") and replies in the rollout's thread.
//
// Slack is a convenience, never a dependency: a Slack outage, a bad token or
// a dropped connection is logged and retried here, and never reaches a
// rollout.
package slackapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/control"
)

// Actor applies an action to a rollout and returns its answer; a refusal
// wraps control.ErrRefused. control.Act with a Temporal client is the one
// used outside tests.
type Actor func(ctx context.Context, workflowID, action string, payload any) (string, error)

// Config is what the handler needs.
type Config struct {
	// AppToken is the app-level token (xapp-…, scope connections:write)
	// that opens Socket Mode connections.
	AppToken string
	// BotToken is the bot token (xoxb-…) replies are posted with.
	BotToken string
	// APIURL overrides Slack's API base URL (tests, proxies) when non-empty.
	APIURL string
	// Temporal is the client actions are sent with; unused when Act is set.
	Temporal client.Client
	// Act replaces control.Act (tests).
	Act Actor
	// Approvers are the Slack user IDs whose clicks are applied; empty
	// means anyone who can see the message (the channel's members).
	Approvers []string
	// Timeout bounds the handling of one click (the Update and the
	// replies); zero means DefaultTimeout.
	Timeout time.Duration
	// PingInterval is how long the connection may go without a ping from
	// Slack before it is reopened; zero keeps slack-go's 30 s.
	PingInterval time.Duration
	Logger       *slog.Logger
}

// DefaultTimeout bounds one click's handling: a rollout answers an Update
// in well under a second, unless no worker runs its workflow.
const DefaultTimeout = 30 * time.Second

// maxInFlight bounds the clicks handled at once; more wait their turn, so
// a flood of crafted envelopes cannot open unbounded Temporal calls.
const maxInFlight = 8

// maxReconnectWait caps the wait between failed connections.
const maxReconnectWait = 5 * time.Minute

// App is a running Socket Mode handler.
type App struct {
	api       *slack.Client
	sm        *socketmode.Client
	act       Actor
	log       *slog.Logger
	approvers map[string]bool
	timeout   time.Duration
	slots     chan struct{}
	clicks    sync.WaitGroup
	connected chan struct{}
}

// New checks cfg and builds the handler; Run connects.
func New(cfg Config) (*App, error) {
	if !strings.HasPrefix(cfg.AppToken, "xapp-") {
		return nil, errors.New("slack app: the app-level token must be an xapp- token (Basic Information → App-Level Tokens, scope connections:write)")
	}
	if cfg.BotToken == "" {
		return nil, errors.New("slack app: a bot token is required to reply to clicks")
	}
	act := cfg.Act
	if act == nil {
		if cfg.Temporal == nil {
			return nil, errors.New("slack app: a Temporal client is required to apply clicks")
		}
		c := cfg.Temporal
		act = func(ctx context.Context, id, name string, payload any) (string, error) {
			return control.Act(ctx, c, id, name, payload)
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "slack")
	opts := []slack.Option{slack.OptionAppLevelToken(cfg.AppToken), slack.OptionLog(logWriter{logger})}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.APIURL))
	}
	api := slack.New(cfg.BotToken, opts...)
	smOpts := []socketmode.Option{socketmode.OptionLog(logWriter{logger})}
	if cfg.PingInterval > 0 {
		smOpts = append(smOpts, socketmode.OptionPingInterval(cfg.PingInterval))
	}
	a := &App{
		api: api, sm: socketmode.New(api, smOpts...), act: act, log: logger,
		approvers: map[string]bool{}, timeout: cfg.Timeout, slots: make(chan struct{}, maxInFlight),
		connected: make(chan struct{}, 1),
	}
	for _, id := range cfg.Approvers {
		if id = strings.TrimSpace(id); id != "" {
			a.approvers[id] = true
		}
	}
	if a.timeout <= 0 {
		a.timeout = DefaultTimeout
	}
	return a, nil
}

// Run holds the Socket Mode connection and handles clicks until ctx ends,
// then waits for the clicks in hand. It reconnects on its own; it returns
// only when ctx is done.
func (a *App) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.connect(ctx)
	}()
	for {
		select {
		case <-ctx.Done():
			<-done
			a.clicks.Wait()
			return nil
		case evt := <-a.sm.Events:
			a.dispatch(ctx, evt)
		}
	}
}

// connect keeps a connection open: slack-go reconnects by itself after
// transient failures and gives up on refused tokens; those are retried here
// too, with a growing wait, so that a token fixed in Slack's settings is
// picked up without restarting the worker.
func (a *App) connect(ctx context.Context) {
	wait := time.Second
	for {
		err := a.sm.RunContext(ctx)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-a.connected:
			wait = time.Second
		default:
		}
		a.log.Error("slack socket mode connection failed; buttons in Slack do nothing until it is back", "err", err, "retryIn", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, maxReconnectWait)
	}
}

// dispatch acknowledges every envelope at once (Slack retries what is not
// acknowledged within 3 s) and hands clicks to their own goroutines.
func (a *App) dispatch(ctx context.Context, evt socketmode.Event) {
	if evt.Request != nil && evt.Request.EnvelopeID != "" {
		if err := a.sm.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
			a.log.Warn("acknowledging a slack envelope", "err", err)
		}
	}
	switch evt.Type {
	case socketmode.EventTypeConnected:
		select {
		case a.connected <- struct{}{}:
		default:
		}
		a.log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		a.log.Warn("slack socket mode", "event", string(evt.Type), "detail", fmt.Sprint(evt.Data))
	case socketmode.EventTypeInvalidAuth:
		a.log.Error("slack refused the app-level token")
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || cb.Type != slack.InteractionTypeBlockActions {
			return
		}
		actions := cb.ActionCallback.BlockActions
		if len(actions) != 1 || actions[0] == nil {
			// A click is one action; anything else was not sent by a button of ours.
			a.log.Warn("refused a slack interaction that is not one click", "actions", len(actions), "user", cb.User.ID)
			return
		}
		ba := *actions[0]
		a.clicks.Add(1)
		go func() {
			defer a.clicks.Done()
			select {
			case a.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-a.slots }()
			a.click(ctx, cb, ba)
		}()
	}
}

// logWriter sends slack-go's log lines to slog at debug level: its own
// messages are chatty, and what matters is logged above.
type logWriter struct{ l *slog.Logger }

func (w logWriter) Output(_ int, s string) error {
	w.l.Debug(strings.TrimSpace(s))
	return nil
}
