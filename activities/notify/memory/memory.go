// Package memory is a Notifier that keeps notifications for tests to read.
package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/canaryflow/canaryflow/rollout"
)

// Notifier records every notification. It threads like Slack does: a
// notification without a thread starts one ("thread-1", "thread-2", …), so
// tests see whether the workflow keeps a rollout in one conversation.
type Notifier struct {
	mu      sync.Mutex
	sent    []rollout.Notification
	threads int
}

// Notify records n and returns its thread: n's own, or a new one.
func (m *Notifier) Notify(_ context.Context, n rollout.Notification) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, n)
	if n.Thread != "" {
		return n.Thread, nil
	}
	m.threads++
	return fmt.Sprintf("thread-%d", m.threads), nil
}

// Threads returns the thread each notification was sent in ("" for one
// that started a thread), in order.
func (m *Notifier) Threads() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.sent))
	for i, n := range m.sent {
		out[i] = n.Thread
	}
	return out
}

// Events returns the event names notified, in order.
func (m *Notifier) Events() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.sent))
	for i, n := range m.sent {
		out[i] = n.Event
	}
	return out
}
