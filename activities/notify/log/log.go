// Package log is the Notifier of last resort: it writes notifications to the
// worker's structured log, where log shipping can pick them up.
package log

import (
	"context"
	"log/slog"

	"github.com/canaryflow/canaryflow/rollout"
)

// Notifier logs notifications with slog.
type Notifier struct {
	Logger *slog.Logger
}

// Notify logs n at a level matching its severity; a log has no threads.
func (l Notifier) Notify(ctx context.Context, n rollout.Notification) (string, error) {
	lg := l.Logger
	if lg == nil {
		lg = slog.Default()
	}
	level := slog.LevelInfo
	switch n.Severity {
	case "warning":
		level = slog.LevelWarn
	case "critical":
		level = slog.LevelError
	}
	lg.Log(ctx, level, n.Title, "event", n.Event, "rollout", n.RolloutID, "app", n.App, "namespace", n.Namespace, "text", n.Text)
	return "", nil
}
