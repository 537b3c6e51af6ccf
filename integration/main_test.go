package integration

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the worker's and client's logs to warnings, so test and
// benchmark output stays readable.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}
