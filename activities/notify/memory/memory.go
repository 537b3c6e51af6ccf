// Package memory is a Notifier that keeps notifications for tests to read.
package memory

import (
	"context"
	"sync"

	"github.com/canaryflow/canaryflow/rollout"
)

// Notifier records every notification.
type Notifier struct {
	mu   sync.Mutex
	sent []rollout.Notification
}

// Notify records n; it has no threads.
func (m *Notifier) Notify(_ context.Context, n rollout.Notification) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, n)
	return "", nil
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
