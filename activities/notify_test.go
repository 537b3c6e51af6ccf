package activities

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/canaryflow/canaryflow/rollout"
)

// threadNotifier answers like a notifier with threads: the handle it was
// given, or a new one.
type threadNotifier struct {
	got []rollout.Notification
	err error
}

func (n *threadNotifier) Notify(_ context.Context, note rollout.Notification) (string, error) {
	n.got = append(n.got, note)
	if n.err != nil {
		return "", n.err
	}
	if note.Thread != "" {
		return note.Thread, nil
	}
	return "C1/1.000001", nil
}

func TestNotifyReturnsTheThread(t *testing.T) {
	n := &threadNotifier{}
	a := &Activities{Notifiers: map[string]Notifier{"slack": n}}
	thread, err := a.Notify(context.Background(), "slack", rollout.Notification{Event: "started"})
	require.NoError(t, err)
	assert.Equal(t, "C1/1.000001", thread)
	again, err := a.Notify(context.Background(), "slack", rollout.Notification{Event: "promoted", Thread: thread})
	require.NoError(t, err)
	assert.Equal(t, thread, again)
	require.Len(t, n.got, 2)
	assert.Equal(t, thread, n.got[1].Thread, "the handle reaches the notifier")
}

func TestNotifyFailuresAreClassified(t *testing.T) {
	n := &threadNotifier{}
	a := &Activities{Notifiers: map[string]Notifier{"slack": n}}

	n.err = errors.New("connection refused")
	thread, err := a.Notify(context.Background(), "slack", rollout.Notification{Event: "started"})
	require.Error(t, err)
	assert.Empty(t, thread)
	var app *temporal.ApplicationError
	assert.False(t, errors.As(err, &app) && app.NonRetryable(), "a transient failure is retried")
	assert.Contains(t, err.Error(), "notifying started: connection refused")

	n.err = errors.Join(errors.New("channel_not_found"), rollout.ErrPermanent)
	_, err = a.Notify(context.Background(), "slack", rollout.Notification{Event: "started"})
	require.ErrorAs(t, err, &app)
	assert.True(t, app.NonRetryable())
	assert.Equal(t, ErrTypePermanent, app.Type())
}

func TestNotifyWithAnUnknownKindIsRefused(t *testing.T) {
	a := &Activities{Notifiers: map[string]Notifier{"log": &threadNotifier{}}}
	_, err := a.Notify(context.Background(), "slack", rollout.Notification{})
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	assert.Equal(t, ErrTypeNoProvider, app.Type())
}
