package slackapp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack/slacktest"
	"github.com/stretchr/testify/require"
)

// fakeSlack is slacktest's Web API plus a Socket Mode endpoint: it answers
// apps.connections.open with a ws:// URL of its own, greets the client with
// hello, pings it, sends the envelopes a test queues and records the
// acknowledgements, and records every message posted, ephemeral or updated.
type fakeSlack struct {
	t   *testing.T
	srv *slacktest.Server

	envelopes chan []byte
	mu        sync.Mutex
	acks      []string
	posts     map[string][]url.Values // by Web API method
	opens     int
	appTokens []string
	ts        int
}

func startFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{t: t, envelopes: make(chan []byte, 16), posts: map[string][]url.Values{}}
	f.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/apps.connections.open", f.open)
		c.Handle("/socket", f.socket)
		for _, m := range []string{"chat.postMessage", "chat.postEphemeral", "chat.update"} {
			c.Handle("/"+m, f.record(m))
		}
	})
	f.srv.Start()
	t.Cleanup(f.srv.Stop)
	return f
}

func (f *fakeSlack) apiURL() string { return f.srv.GetAPIURL() }

func (f *fakeSlack) open(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.opens++
	f.appTokens = append(f.appTokens, r.Header.Get("Authorization"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"ok":true,"url":"ws://%s/socket"}`, r.Host)
}

func (f *fakeSlack) socket(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		f.t.Errorf("fake slack: upgrading to a websocket: %v", err)
		return
	}
	defer conn.Close()
	var wmu sync.Mutex
	write := func(mt int, data []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return conn.WriteMessage(mt, data)
	}
	if err := write(websocket.TextMessage, []byte(`{"type":"hello","num_connections":1,"connection_info":{"app_id":"A1"}}`)); err != nil {
		return
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var ack struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if json.Unmarshal(data, &ack) == nil && ack.EnvelopeID != "" {
				f.mu.Lock()
				f.acks = append(f.acks, ack.EnvelopeID)
				f.mu.Unlock()
			}
		}
	}()
	ping := time.NewTicker(200 * time.Millisecond)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case env := <-f.envelopes:
			if write(websocket.TextMessage, env) != nil {
				return
			}
		case <-ping.C:
			if write(websocket.PingMessage, []byte("ping")) != nil {
				return
			}
		}
	}
}

func (f *fakeSlack) record(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		require.NoError(f.t, r.ParseForm())
		f.mu.Lock()
		f.posts[method] = append(f.posts[method], r.PostForm)
		f.ts++
		ts := fmt.Sprintf("1700000100.%06d", f.ts)
		f.mu.Unlock()
		// Slack answers with the channel's ID, whatever name was posted to.
		channel := r.PostForm.Get("channel")
		if strings.HasPrefix(channel, "#") {
			channel = "C0DEPLOYS"
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q,"message_ts":%q}`, channel, ts, ts)
	}
}

// click queues a block_actions envelope as Slack sends one over Socket
// Mode when user clicks the button (actionID, value) on the message ts,
// which sits in thread; it returns the envelope's ID.
func (f *fakeSlack) click(user, actionID, value, ts, thread string, blocks json.RawMessage) string {
	f.mu.Lock()
	id := fmt.Sprintf("env-%d-%d", len(f.acks), time.Now().UnixNano())
	f.mu.Unlock()
	if blocks == nil {
		blocks = json.RawMessage(`[]`)
	}
	payload := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": user, "username": "alice", "name": "alice", "team_id": "T1"},
		"api_app_id": "A1",
		"team":       map[string]any{"id": "T1", "domain": "example"},
		"container":  map[string]any{"type": "message", "message_ts": ts, "channel_id": "C0DEPLOYS", "is_ephemeral": false, "thread_ts": thread},
		"channel":    map[string]any{"id": "C0DEPLOYS", "name": "deploys"},
		"message":    map[string]any{"type": "message", "ts": ts, "thread_ts": thread, "text": "waits for approval", "blocks": blocks},
		"actions": []map[string]any{{
			"type": "button", "action_id": actionID, "block_id": "canaryflow.approval", "value": value,
			"text": map[string]any{"type": "plain_text", "text": "Approve"}, "action_ts": "1700000200.000001",
		}},
		"trigger_id": "1.2.3",
	}
	env, err := json.Marshal(map[string]any{
		"envelope_id": id, "type": "interactive", "accepts_response_payload": false, "payload": payload,
	})
	require.NoError(f.t, err)
	f.envelopes <- env
	return id
}

func (f *fakeSlack) acked(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.acks {
		if a == id {
			return true
		}
	}
	return false
}

func (f *fakeSlack) sent(method string) []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.posts[method]...)
}

func (f *fakeSlack) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens
}
