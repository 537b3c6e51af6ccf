package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

type posted struct {
	mu   sync.Mutex
	msgs []url.Values
}

func server(t *testing.T, p *posted, answer string) *slacktest.Server {
	s := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			require.NoError(t, r.ParseForm())
			p.mu.Lock()
			p.msgs = append(p.msgs, r.PostForm)
			p.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(answer))
		})
	})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func note() rollout.Notification {
	return rollout.Notification{RolloutID: "canary-prod.shop", App: "shop", Namespace: "prod", Event: "RolledBack",
		Title: "Canary v2 of prod/shop RolledBack", Text: "canary error rate 20.00% > 5.00%", Severity: "critical", At: time.Unix(1700000000, 0)}
}

func TestPostsToTheSpecsChannel(t *testing.T) {
	var p posted
	s := server(t, &p, `{"ok":true,"channel":"C1","ts":"1"}`)
	n, err := New("xoxb-test", "#fallback", s.GetAPIURL())
	require.NoError(t, err)
	msg := note()
	msg.Channel = "#deploys"
	require.NoError(t, n.Notify(context.Background(), msg))
	require.Len(t, p.msgs, 1)
	got := p.msgs[0]
	assert.Equal(t, "#deploys", got.Get("channel"))
	assert.Equal(t, "Canary v2 of prod/shop RolledBack", got.Get("text"))
	var atts []map[string]any
	require.NoError(t, json.Unmarshal([]byte(got.Get("attachments")), &atts))
	require.Len(t, atts, 1)
	assert.Equal(t, "danger", atts[0]["color"])
	// Slack shows &gt; as ">"; a bare ">" is how its control sequences end.
	assert.Equal(t, "canary error rate 20.00% &gt; 5.00%", atts[0]["text"])
}

func TestFallsBackToTheWorkersChannel(t *testing.T) {
	var p posted
	s := server(t, &p, `{"ok":true}`)
	n, err := New("xoxb-test", "#fallback", s.GetAPIURL())
	require.NoError(t, err)
	require.NoError(t, n.Notify(context.Background(), note()))
	assert.Equal(t, "#fallback", p.msgs[0].Get("channel"))
}

func TestSlackRefusalIsPermanent(t *testing.T) {
	var p posted
	s := server(t, &p, `{"ok":false,"error":"channel_not_found"}`)
	n, err := New("xoxb-test", "#nope", s.GetAPIURL())
	require.NoError(t, err)
	err = n.Notify(context.Background(), note())
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.Contains(t, err.Error(), "channel_not_found")
}

func TestUnreachableSlackIsRetryable(t *testing.T) {
	n, err := New("xoxb-test", "#deploys", "http://127.0.0.1:1/")
	require.NoError(t, err)
	err = n.Notify(context.Background(), note())
	require.Error(t, err)
	assert.NotErrorIs(t, err, rollout.ErrPermanent)
}

func TestNeedsAToken(t *testing.T) {
	_, err := New("", "#x", "")
	assert.ErrorContains(t, err, "bot token is required")
}

func TestTextIsEscapedAndRedacted(t *testing.T) {
	var p posted
	s := server(t, &p, `{"ok":true}`)
	n, err := New("xoxb-test", "#deploys", s.GetAPIURL())
	require.NoError(t, err)
	msg := note()
	msg.Title = "<!channel> rollback of a&b"
	msg.Text = "aborted by <@U123>: see <http://evil.example|click here> & query http://prom:9090/?token=s3cret > now"
	msg.Event = "<!here>"
	require.NoError(t, n.Notify(context.Background(), msg))
	require.Len(t, p.msgs, 1)
	got := p.msgs[0]
	assert.Equal(t, "&lt;!channel&gt; rollback of a&amp;b", got.Get("text"))
	var atts []struct {
		Text   string `json:"text"`
		Fields []struct {
			Value string `json:"value"`
		} `json:"fields"`
	}
	require.NoError(t, json.Unmarshal([]byte(got.Get("attachments")), &atts))
	require.Len(t, atts, 1)
	assert.Equal(t, "aborted by &lt;@U123&gt;: see &lt;http://evil.example|click here&gt; &amp; query http://prom:9090/?token=xxxxx &gt; now", atts[0].Text)
	assert.Equal(t, "&lt;!here&gt;", atts[0].Fields[1].Value)
	for _, v := range got {
		for _, s := range v {
			assert.NotContains(t, s, "<!")
			assert.NotContains(t, s, "s3cret")
		}
	}
}
