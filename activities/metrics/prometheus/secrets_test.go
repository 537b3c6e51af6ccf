package prometheus_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	promsource "github.com/canaryflow/canaryflow/activities/metrics/prometheus"
	"github.com/canaryflow/canaryflow/rollout"
)

const (
	password = "hunter2-prom"
	token    = "s3cret-prom-token"
)

// withSecrets puts a user:password and a token query into base's URL.
func withSecrets(base string) string {
	return strings.Replace(base, "http://", "http://admin:"+password+"@", 1) + "/?token=" + token
}

func assertNoSecret(t *testing.T, text string) {
	t.Helper()
	assert.NotContains(t, text, password)
	assert.NotContains(t, text, token)
}

// fakeProm answers every query with one sample and a warning, after
// checking the credentials arrived: they are used, just never printed.
func fakeProm(t *testing.T, answer func(w http.ResponseWriter)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "admin" || pass != password {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/api/v1/series" {
			_, _ = w.Write([]byte(`{"status":"success","data":[{"__name__":"x"}]}`))
			return
		}
		answer(w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCredentialsAreUsedButNeverPrinted(t *testing.T) {
	srv := fakeProm(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","warnings":["partial data"],"data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}]}}`))
	})
	var logs bytes.Buffer
	src := promsource.New("", promsource.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	s, err := src.Measure(context.Background(), spec(withSecrets(srv.URL), nil), time.Minute)
	require.NoError(t, err, "the credentials reached the server")
	assert.Equal(t, 2.0, float64(s.Canary.RequestRate))
	require.NoError(t, src.Check(context.Background(), spec(withSecrets(srv.URL), nil)))
	require.Contains(t, logs.String(), "partial data", "the warning was logged")
	assert.Contains(t, logs.String(), strings.TrimPrefix(srv.URL, "http://"), "the server is named")
	assertNoSecret(t, logs.String())
}

func TestErrorsNameTheServerWithoutItsSecrets(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	t.Cleanup(refusing.Close)
	for name, addr := range map[string]string{
		"closed port":      withSecrets("http://" + closedAddress(t)),
		"server error":     withSecrets(refusing.URL),
		"bad port":         "http://admin:" + password + "@127.0.0.1:notaport/?token=" + token,
		"wrong credential": strings.Replace(withSecrets(refusing.URL), password, password+"-wrong", 1),
	} {
		t.Run(name, func(t *testing.T) {
			src := promsource.New("", promsource.WithQueryTimeout(3*time.Second))
			_, err := src.Measure(context.Background(), spec(addr, nil), time.Minute)
			require.ErrorIs(t, err, rollout.ErrQueryFailed)
			if name != "bad port" { // unparseable: nothing of it is shown
				assert.Contains(t, err.Error(), "127.0.0.1")
			}
			assertNoSecret(t, err.Error())

			err = src.Check(context.Background(), spec(addr, nil))
			require.ErrorIs(t, err, rollout.ErrQueryFailed)
			assertNoSecret(t, err.Error())
		})
	}
}

func TestAnOversizedAnswerIsAnError(t *testing.T) {
	srv := fakeProm(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","warnings":["`))
		_, _ = w.Write(bytes.Repeat([]byte("x"), promsource.MaxAnswerBytes))
		_, _ = w.Write([]byte(`"],"data":{"resultType":"vector","result":[]}}`))
	})
	src := promsource.New("")
	_, err := src.Measure(context.Background(), spec(withSecrets(srv.URL), nil), time.Minute)
	require.ErrorIs(t, err, rollout.ErrQueryFailed)
	assert.Contains(t, err.Error(), "larger than 4194304 bytes")
	assertNoSecret(t, err.Error())
}

func TestAnAnswerJustUnderTheLimitIsRead(t *testing.T) {
	head := `{"status":"success","warnings":["`
	tail := `"],"data":{"resultType":"vector","result":[{"metric":{},"value":[1,"3"]}]}}`
	srv := fakeProm(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(head))
		_, _ = w.Write(bytes.Repeat([]byte("x"), promsource.MaxAnswerBytes-len(head)-len(tail)))
		_, _ = w.Write([]byte(tail))
	})
	src := promsource.New("", promsource.WithLogger(slog.New(slog.DiscardHandler)))
	s, err := src.Measure(context.Background(), spec(srv.URL[:7]+"admin:"+password+"@"+srv.URL[7:], nil), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 3.0, float64(s.Canary.RequestRate))
}
