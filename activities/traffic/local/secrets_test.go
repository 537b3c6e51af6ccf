package local_test

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/activities/traffic/local"
	"github.com/canaryflow/canaryflow/rollout"
)

const (
	password = "hunter2-router"
	token    = "s3cret-router-token"
)

func withSecrets(base string) string {
	return strings.Replace(base, "http://", "http://admin:"+password+"@", 1) + "/?token=" + token
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), password)
	assert.NotContains(t, err.Error(), token)
	assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString([]byte("admin:"+password)))
}

// TestTheTokenIsSentButNeverPrinted: the real router works through an
// adminURL carrying a token, and every failure names the router without it.
func TestTheTokenIsSentButNeverPrinted(t *testing.T) {
	ctx := context.Background()
	r := local.New(nil)
	var gotQuery string
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		gotQuery = req.URL.RawQuery
		// A hostile or careless server quotes the request back.
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"error":"refused `+req.URL.String()+` for `+req.Header.Get("Authorization")+` token `+req.URL.Query().Get("token")+`"}`)
	}))
	t.Cleanup(echo.Close)

	err := r.SetWeight(ctx, spec(withSecrets(echo.URL)), 10)
	assert.Equal(t, "token="+token, gotQuery, "the token reached the router")
	assert.ErrorIs(t, err, rollout.ErrPermanent)
	assert.Contains(t, err.Error(), "refused /weight?token=xxxxx")
	assert.Contains(t, err.Error(), strings.TrimPrefix(echo.URL, "http://"), "the router is named")
	assertNoSecret(t, err)
	_, err = r.Weight(ctx, spec(withSecrets(echo.URL)))
	assertNoSecret(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	err = r.SetWeight(ctx, spec(withSecrets(closed)), 10)
	assert.Contains(t, err.Error(), "calling router")
	assertNoSecret(t, err)
	_, err = r.Weight(ctx, spec(withSecrets(closed)))
	assertNoSecret(t, err)

	ok := fake(t, http.StatusOK, `{"weight":5}`)
	err = r.SetWeight(ctx, spec(withSecrets(ok)), 10)
	assert.Contains(t, err.Error(), "router answered weight 5")
	assertNoSecret(t, err)
}

func TestAnOversizedRouterAnswerIsAnError(t *testing.T) {
	ctx := context.Background()
	r := local.New(nil)
	pad := func(n int) string {
		return `{"weight":7,"pad":"` + strings.Repeat("x", n-len(`{"weight":7,"pad":""}`)) + `"}`
	}

	w, err := r.Weight(ctx, spec(fake(t, http.StatusOK, pad(local.MaxAnswerBytes))))
	require.NoError(t, err, "an answer of exactly the limit is read")
	assert.Equal(t, 7, w)

	_, err = r.Weight(ctx, spec(fake(t, http.StatusOK, pad(local.MaxAnswerBytes+1))))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "larger than 65536 bytes")
}
