package prometheus_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	promsource "github.com/canaryflow/canaryflow/activities/metrics/prometheus"
	"github.com/canaryflow/canaryflow/rollout"
)

const (
	workerPassword = "W0rkerPassw0rd-7b2e"
	workerToken    = "W0rkerT0ken-c41d"
)

// authLog is a fake Prometheus that answers every query with one sample and
// a warning, and records the Authorization header of every request.
type authLog struct {
	srv  *httptest.Server
	mu   sync.Mutex
	auth []string
}

func (a *authLog) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auth...)
}

func recordingProm(t *testing.T) *authLog {
	a := &authLog{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.auth = append(a.auth, r.Header.Get("Authorization"))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v1/series" {
			_, _ = w.Write([]byte(`{"status":"success","data":[{"__name__":"x"}]}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"success","warnings":["partial data"],"data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}]}}`))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// withUser puts user:password into base's URL.
func withUser(base, password string) string {
	return strings.Replace(base, "http://", "http://reader:"+password+"@", 1)
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// measureAndCheck runs both of the Source's calls against address and
// returns their logs.
func measureAndCheck(t *testing.T, src func(*slog.Logger) *promsource.Source, address string) string {
	t.Helper()
	var logs bytes.Buffer
	s := src(slog.New(slog.NewTextHandler(&logs, nil)))
	sample, err := s.Measure(context.Background(), spec(address, nil), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 2.0, float64(sample.Canary.RequestRate))
	require.NoError(t, s.Check(context.Background(), spec(address, nil)))
	return logs.String()
}

func TestTheWorkersCredentialsGoToItsPrometheusOnly(t *testing.T) {
	own, other := recordingProm(t), recordingProm(t)
	host := strings.TrimPrefix(own.srv.URL, "http://")
	for name, c := range map[string]struct {
		opts       []promsource.Option
		worker     string
		wantHeader string
	}{
		"user:password in the worker's URL": {nil, withUser(own.srv.URL, workerPassword), basic("reader", workerPassword)},
		"bearer token":                      {[]promsource.Option{promsource.WithBearerToken(workerToken)}, own.srv.URL, "Bearer " + workerToken},
		"token wins over user:password":     {[]promsource.Option{promsource.WithBearerToken(workerToken)}, withUser(own.srv.URL, workerPassword), "Bearer " + workerToken},
		"worker's URL without a scheme":     {nil, "reader:" + workerPassword + "@" + host, basic("reader", workerPassword)},
	} {
		t.Run(name, func(t *testing.T) {
			src := func(l *slog.Logger) *promsource.Source {
				return promsource.New(c.worker, append([]promsource.Option{promsource.WithLogger(l)}, c.opts...)...)
			}
			for _, address := range []string{
				"",                     // the spec names no address: the worker's
				own.srv.URL,            // the spec names the worker's server
				"http://" + host + "/", // with a path
			} {
				before := len(own.seen())
				logs := measureAndCheck(t, src, address)
				got := own.seen()[before:]
				require.NotEmpty(t, got)
				for _, h := range got {
					assert.Equal(t, c.wantHeader, h, "spec address %q", address)
				}
				assert.Contains(t, logs, host, "the server is named")
				assertNoWorkerSecret(t, logs)
			}

			before := len(other.seen())
			logs := measureAndCheck(t, src, other.srv.URL)
			for _, h := range other.seen()[before:] {
				assert.Empty(t, h, "another server named by a spec gets no credentials")
			}
			assertNoWorkerSecret(t, logs)
		})
	}
}

func TestNoWorkerCredentialsNoAuthorization(t *testing.T) {
	own := recordingProm(t)
	measureAndCheck(t, func(l *slog.Logger) *promsource.Source { return promsource.New(own.srv.URL, promsource.WithLogger(l)) }, "")
	for _, h := range own.seen() {
		assert.Empty(t, h)
	}
}

func TestTheDefaultPortMatches(t *testing.T) {
	// http://prom and http://PROM:80 are one server: a request to either
	// carries the credentials; https://prom (443) is another.
	var got []string
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.URL.Host+" "+r.Header.Get("Authorization"))
		return &http.Response{StatusCode: http.StatusBadGateway, Body: http.NoBody, Request: r}, nil
	})
	src := promsource.New("http://reader:"+workerPassword+"@prom", promsource.WithRoundTripper(rt), promsource.WithQueryTimeout(time.Second))
	for _, address := range []string{"http://PROM:80", "https://prom"} {
		err := src.Check(context.Background(), spec(address, nil))
		require.ErrorIs(t, err, rollout.ErrQueryFailed)
		assertNoWorkerSecret(t, err.Error())
	}
	require.Len(t, got, 2)
	assert.Equal(t, "PROM:80 "+basic("reader", workerPassword), got[0])
	assert.Equal(t, "prom ", got[1])
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAServerEchoingTheWorkersCredentialsDoesNotPrintThem(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"refused ` + r.Header.Get("Authorization") + `"}`))
	}))
	t.Cleanup(echo.Close)
	for name, src := range map[string]*promsource.Source{
		"basic":  promsource.New(withUser(echo.URL, workerPassword)),
		"bearer": promsource.New(echo.URL, promsource.WithBearerToken(workerToken)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := src.Measure(context.Background(), spec("", nil), time.Minute)
			require.ErrorIs(t, err, rollout.ErrQueryFailed)
			assert.Contains(t, err.Error(), "refused", "the server's answer is quoted")
			assert.Contains(t, err.Error(), strings.TrimPrefix(echo.URL, "http://"), "the server is named")
			assertNoWorkerSecret(t, err.Error())
			err = src.Check(context.Background(), spec(echo.URL, nil))
			require.ErrorIs(t, err, rollout.ErrQueryFailed)
			assertNoWorkerSecret(t, err.Error())
		})
	}
}

func assertNoWorkerSecret(t *testing.T, text string) {
	t.Helper()
	for _, s := range []string{workerPassword, workerToken, base64.StdEncoding.EncodeToString([]byte("reader:" + workerPassword))} {
		assert.NotContains(t, text, s)
	}
}
