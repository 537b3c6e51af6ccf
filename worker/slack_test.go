package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlackButtonsAreOffWithoutAnAppToken(t *testing.T) {
	t.Setenv(envSlackAppToken, "")
	stop, err := startSlackApp(context.Background(), &config{slackToken: "xoxb-test"}, nil, slog.Default())
	require.NoError(t, err)
	stop()
}

func TestSlackButtonsNeedABotToken(t *testing.T) {
	t.Setenv(envSlackAppToken, "xapp-1-test")
	t.Setenv(envSlackBotToken, "")
	_, err := startSlackApp(context.Background(), &config{}, nil, slog.Default())
	assert.ErrorContains(t, err, "SLACK_APP_TOKEN is set but no bot token")
}

func TestSlackButtonsRefuseABotTokenAsAppToken(t *testing.T) {
	t.Setenv(envSlackAppToken, "xoxb-not-an-app-token")
	_, err := startSlackApp(context.Background(), &config{slackToken: "xoxb-test"}, nil, slog.Default())
	assert.ErrorContains(t, err, "xapp- token")
}

func TestSlackApproversList(t *testing.T) {
	assert.Equal(t, []string{"U1", "U2", "W3"}, approvers(" U1,U2 ,\nW3,, "))
	assert.Empty(t, approvers(""))
}
