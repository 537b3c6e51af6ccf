package rollout

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedactURLKeepsTheServerAndHidesSecrets(t *testing.T) {
	for raw, want := range map[string]string{
		"http://prom:9090":                           "http://prom:9090",
		"http://admin:hunter2@prom:9090/api":         "http://admin:xxxxx@prom:9090/api",
		"https://ghp_TOKEN@example.com/x":            "https://xxxxx@example.com/x",
		"http://router/admin?token=s3cret&env=prod":  "http://router/admin?token=xxxxx&env=xxxxx",
		"http://router/admin?s3cret":                 "http://router/admin?xxxxx",
		"http://h/p#access_token=s3cret":             "http://h/p",
		"http://u:p%40ss@h:1/?a=b;c=d":               "http://u:xxxxx@h:1/?a=xxxxx&c=xxxxx",
		"http://user:pw@host:notaport/?token=s3cret": "http://xxxxx",
		"mailto:someone@example.com":                 "mailto:xxxxx",
		"ht tp://user:pw@host":                       "xxxxx",
	} {
		assert.Equal(t, want, RedactURL(raw), raw)
	}
}

func TestRedactTextFindsEveryURL(t *testing.T) {
	in := `querying Prometheus at http://admin:hunter2@prom:9090 for canary.p95: Post "http://admin:***@prom:9090/api/v1/query?tok=abc": dial tcp 127.0.0.1:9: connection refused; also https://TOKEN@h/x and <http://h/?k=v>`
	got := RedactText(in)
	for _, secret := range []string{"hunter2", "abc", "TOKEN", "k=v"} {
		assert.NotContains(t, got, secret)
	}
	for _, kept := range []string{"http://admin:xxxxx@prom:9090 for canary.p95", `"http://admin:xxxxx@prom:9090/api/v1/query?tok=xxxxx"`, "dial tcp 127.0.0.1:9: connection refused", "https://xxxxx@h/x", "<http://h/?k=xxxxx>"} {
		assert.Contains(t, got, kept)
	}
	assert.Equal(t, "no url here: 10.0.0.1:80", RedactText("no url here: 10.0.0.1:80"))
}

var errSentinel = errors.New("sentinel")

func TestRedactErrorKeepsSentinelsButNotTheText(t *testing.T) {
	// A real *url.Error from net/http: it hides the password but not the
	// user name or the query string.
	req, err := http.NewRequest(http.MethodGet, "http://admin:hunter2@127.0.0.1:1/weight?token=s3cret", nil)
	require.NoError(t, err)
	_, doErr := http.DefaultClient.Do(req)
	var ue *url.Error
	require.ErrorAs(t, doErr, &ue)
	require.Contains(t, doErr.Error(), "s3cret", "net/http quotes the query string")

	err = RedactError(fmt.Errorf("calling router: %w: %w", doErr, errSentinel))
	assert.NotContains(t, err.Error(), "s3cret")
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), "calling router: Get \"http://admin:xxxxx@127.0.0.1:1/weight?token=xxxxx\"")
	assert.ErrorIs(t, err, errSentinel)
	// Nothing that walks the chain finds the original text.
	assert.Nil(t, errors.Unwrap(err))
	wrapped := fmt.Errorf("activity: %w", err)
	for e := wrapped; e != nil; e = errors.Unwrap(e) {
		assert.NotContains(t, e.Error(), "s3cret")
	}
	assert.Same(t, err, RedactError(err), "redacting twice changes nothing")
	assert.NoError(t, RedactError(nil))
}

func TestValidationDoesNotQuoteCredentialsBack(t *testing.T) {
	s := validSpec().WithDefaults()
	s.Smoke = Smoke{BaseURL: "ftp://admin:hunter2@shop/?token=s3cret"}.withDefaults()
	s.Metrics = Metrics{Kind: "prometheus", Prometheus: &PrometheusMetrics{Address: "prom:hunter2@9090", Metric: DefaultMetric}}
	err := s.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "smoke.baseURL: must be an absolute http(s) URL")
	assert.Contains(t, err.Error(), "metrics.prometheus.address: must be an absolute http(s) URL")
	assert.NotContains(t, err.Error(), "hunter2")
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestScrubRemovesSecretsAnIssuerEchoes(t *testing.T) {
	known := "http://admin:p%40ss-word@h:1/?token=tok%2Fen&env=1"
	assert.ElementsMatch(t, []string{"p@ss-word", "p%40ss-word", "YWRtaW46cEBzcy13b3Jk", "tok/en", "tok%2Fen"}, URLSecrets(known),
		"short values (env=1) are left to URL redaction, not scrubbed from all text")
	got := Scrub("echo: /weight?token=tok%2Fen as admin with p@ss-word (Basic YWRtaW46cEBzcy13b3Jk), env 1", known)
	assert.Equal(t, "echo: /weight?token=xxxxx as admin with xxxxx (Basic xxxxx), env 1", got)
	assert.Equal(t, "unchanged", Scrub("unchanged", "not a url ::", ""))
	assert.Equal(t, "at http://h:1: refused", RedactText("at http://h:1: refused"), "trailing punctuation is not part of the URL")
}

func TestScrubValuesRemovesSecretsHeldOutsideURLs(t *testing.T) {
	got := ScrubValues("Bearer tok/en-123 sent, escaped tok%2Fen-123, short ab stays", "tok/en-123", "ab", "")
	assert.Equal(t, "Bearer xxxxx sent, escaped xxxxx, short ab stays", got)

	err := RedactErrorValues(fmt.Errorf("asking http://h:1/?token=t1234: 401 for Bearer tok/en-123: %w", ErrQueryFailed),
		[]string{"tok/en-123"}, "http://h:1/?token=t1234")
	require.ErrorIs(t, err, ErrQueryFailed)
	assert.Equal(t, "asking http://h:1/?token=xxxxx: 401 for Bearer xxxxx: metrics query failed", err.Error())
	assert.Same(t, err, RedactErrorValues(err, nil), "redacting twice changes nothing")
}
