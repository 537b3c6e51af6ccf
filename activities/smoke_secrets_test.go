package activities

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

const (
	smokePassword = "hunter2-smoke"
	smokeToken    = "s3cret-smoke-token"
)

func withSmokeSecrets(base string) string {
	return strings.Replace(base, "http://", "http://admin:"+smokePassword+"@", 1) + "/?token=" + smokeToken
}

// report renders every text of a smoke report, as status and the incident report show it.
func reportText(r rollout.SmokeReport) string {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%s | %s | %s\n", c.Name, c.Figure, c.Detail)
	}
	return b.String()
}

func TestSmokeReportsNameURLsWithoutTheirSecrets(t *testing.T) {
	var gotToken string
	canary := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotToken = r.URL.Query().Get("token")
		// A careless app echoes its request: the token in the body of a 500 is never read.
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprint(w, r.URL.String())
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	r, err := (&Activities{}).SmokeTest(t.Context(), directSpec(withSmokeSecrets(canary), withSmokeSecrets(closed)))
	require.NoError(t, err)
	assert.Equal(t, smokeToken, gotToken, "the token reached the canary, after the path")
	text := reportText(r)
	assert.False(t, r.Passed())
	assert.Contains(t, text, "stable did not answer")
	assert.Contains(t, text, strings.TrimPrefix(closed, "http://"), "the failing server is named")
	assert.Contains(t, text, "token=xxxxx")
	assert.NotContains(t, text, smokePassword)
	assert.NotContains(t, text, smokeToken)
}

func TestSmokeURLKeepsTheQueryAfterThePath(t *testing.T) {
	for base, want := range map[string]string{
		"http://h:1":               "http://h:1/health",
		"http://h:1/":              "http://h:1/health",
		"http://h:1/shop/?token=t": "http://h:1/shop/health?token=t",
		"http://u:p@h:1?token=t":   "http://u:p@h:1/health?token=t",
	} {
		assert.Equal(t, want, smokeURL(base, "/health"), base)
	}
	assert.Equal(t, "http://h:1/api/users?limit=1&token=t", smokeURL("http://h:1?token=t", "/api/users?limit=1"))
}

func TestAnOversizedSmokeAnswerFailsItsCheck(t *testing.T) {
	big := &fakeApp{rssMB: 10}
	app := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/users":
			_, _ = w.Write(make([]byte, MaxSmokeAnswerBytes+1))
		case "/api/properties":
			_, _ = w.Write(make([]byte, MaxSmokeAnswerBytes))
		default:
			big.ServeHTTP(w, r)
		}
	}))
	r, err := (&Activities{}).SmokeTest(t.Context(), directSpec(app, serve(t, &fakeApp{})))
	require.NoError(t, err)
	users := check(t, r, "endpoint /api/users")
	assert.False(t, users.Passed)
	assert.Contains(t, users.Detail, "the answer is larger than 4194304 bytes")
	assert.True(t, check(t, r, "endpoint /api/properties").Passed, "an answer of exactly the limit is read")
}
