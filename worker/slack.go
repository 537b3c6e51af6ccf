package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/slackapp"
)

// Environment of the Slack buttons. The app-level token is read from the
// environment only: a flag's value shows in `ps` and in --help defaults.
const (
	envSlackAppToken  = "SLACK_APP_TOKEN"
	envSlackBotToken  = "SLACK_BOT_TOKEN"
	envSlackApprovers = "SLACK_APPROVERS"
)

// startSlackApp starts the handler of the Approve and Abort buttons inside
// the worker when SLACK_APP_TOKEN is set, and returns what stops it. It
// replies with the notifier's bot token (--slack-token or SLACK_BOT_TOKEN)
// and applies clicks through c. A Slack outage is the handler's business
// (it reconnects on its own); only a configuration that cannot work stops
// the worker from starting.
func startSlackApp(ctx context.Context, cfg *config, c client.Client, logger *slog.Logger) (stop func(), err error) {
	appToken := os.Getenv(envSlackAppToken)
	if appToken == "" {
		return func() {}, nil
	}
	bot := cfg.slackToken
	if bot == "" {
		bot = os.Getenv(envSlackBotToken)
	}
	if bot == "" {
		return nil, fmt.Errorf("starting the Slack buttons: %s is set but no bot token (--slack-token or %s) to reply with", envSlackAppToken, envSlackBotToken)
	}
	app, err := slackapp.New(slackapp.Config{
		AppToken: appToken, BotToken: bot, APIURL: cfg.slackAPIURL,
		Temporal: c, Approvers: approvers(os.Getenv(envSlackApprovers)), Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the Slack buttons: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := app.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("slack buttons stopped", "err", err)
		}
	}()
	logger.Info("slack buttons served over socket mode", "approvers", os.Getenv(envSlackApprovers))
	return func() {
		cancel()
		<-done
	}, nil
}

// approvers splits a comma- or space-separated list of Slack user IDs.
func approvers(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}
