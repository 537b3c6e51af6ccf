package local_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/canaryflow/canaryflow/activities"
	"github.com/canaryflow/canaryflow/activities/traffic/local"
	"github.com/canaryflow/canaryflow/demo/router"
	"github.com/canaryflow/canaryflow/rollout"
)

var _ activities.TrafficRouter = (*local.Router)(nil)

// startRouter runs the real demo router in-process on loopback listeners and
// returns its admin URL.
func startRouter(t *testing.T, maxWeight int) string {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(backend.Close)
	r, err := router.New(router.Config{
		Stable: backend.URL, Canary: backend.URL, MaxWeight: &maxWeight,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	public, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, public, admin) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return "http://" + admin.Addr().String()
}

func spec(adminURL string) rollout.Spec {
	return rollout.Spec{
		App: "demo", Namespace: "default",
		Traffic: rollout.Traffic{Kind: "local", Local: &rollout.LocalTraffic{AdminURL: adminURL}},
	}
}

func TestSetAndReadWeight(t *testing.T) {
	ctx := context.Background()
	s := spec(startRouter(t, 100))
	r := local.New(nil)

	w, err := r.Weight(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, 0, w)

	for _, want := range []int{10, 25, 25, 50, 100, 0} { // 25 twice: calls are idempotent
		require.NoError(t, r.SetWeight(ctx, s, want))
		got, err := r.Weight(ctx, s)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

func TestTrailingSlashInAdminURL(t *testing.T) {
	s := spec(startRouter(t, 100) + "/")
	require.NoError(t, local.New(nil).SetWeight(context.Background(), s, 30))
}

func TestRefusalIsPermanentWithReason(t *testing.T) {
	ctx := context.Background()
	s := spec(startRouter(t, 20))
	r := local.New(nil)

	err := r.SetWeight(ctx, s, 50)
	require.Error(t, err)
	assert.ErrorIs(t, err, rollout.ErrPermanent)
	assert.Contains(t, err.Error(), "weight 50 is above this router's max weight 20")
	assert.Contains(t, err.Error(), "422")

	w, err := r.Weight(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, 0, w, "the refused weight was not applied")

	require.NoError(t, r.SetWeight(ctx, s, 20), "weights up to the cap still work")
}

// TestRefusalStopsActivityRetries checks the whole path: the activity turns
// the router's refusal into a non-retryable Temporal failure.
func TestRefusalStopsActivityRetries(t *testing.T) {
	s := spec(startRouter(t, 20))
	a := &activities.Activities{Routers: map[string]activities.TrafficRouter{"local": local.New(nil)}}

	err := a.SetWeight(context.Background(), activities.WeightInput{Spec: s, Weight: 50})
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	assert.True(t, app.NonRetryable())
	assert.Contains(t, app.Error(), "max weight 20")

	require.NoError(t, a.SetWeight(context.Background(), activities.WeightInput{Spec: s, Weight: 10}))
}

func TestInvalidInputIsPermanent(t *testing.T) {
	ctx := context.Background()
	r := local.New(nil)
	admin := startRouter(t, 100)

	for _, w := range []int{-1, 101} {
		assert.ErrorIs(t, r.SetWeight(ctx, spec(admin), w), rollout.ErrPermanent, "weight %d", w)
	}

	noLocal := rollout.Spec{Traffic: rollout.Traffic{Kind: "local"}}
	assert.ErrorIs(t, r.SetWeight(ctx, noLocal, 10), rollout.ErrPermanent)
	_, err := r.Weight(ctx, noLocal)
	assert.ErrorIs(t, err, rollout.ErrPermanent)
	assert.Contains(t, err.Error(), "traffic.local.adminURL")

	_, err = r.Weight(ctx, spec("http://[::1"))
	assert.ErrorIs(t, err, rollout.ErrPermanent, "a malformed URL cannot be fixed by retrying")
}

// fake answers every request with code and body, standing in for a router
// that is failing in ways the real one does not do on demand.
func fake(t *testing.T, code int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestServerErrorsAreRetryable(t *testing.T) {
	ctx := context.Background()
	r := local.New(nil)
	cases := map[string]struct {
		code int
		body string
		want string
	}{
		"503 with JSON reason": {http.StatusServiceUnavailable, `{"error":"overloaded"}`, "overloaded"},
		"500 with text":        {http.StatusInternalServerError, "boom", "boom"},
		"429":                  {http.StatusTooManyRequests, "", "no reason given"},
		"408":                  {http.StatusRequestTimeout, "", "408"},
	}
	for name, tc := range cases {
		url := fake(t, tc.code, tc.body)
		err := r.SetWeight(ctx, spec(url), 10)
		require.Error(t, err, name)
		assert.False(t, errors.Is(err, rollout.ErrPermanent), name)
		assert.Contains(t, err.Error(), tc.want, name)
	}

	// A 4xx with a text body is still a refusal, quoted back.
	err := r.SetWeight(ctx, spec(fake(t, http.StatusForbidden, "read-only router")), 10)
	assert.ErrorIs(t, err, rollout.ErrPermanent)
	assert.Contains(t, err.Error(), "read-only router")
}

func TestUnexpectedAnswers(t *testing.T) {
	ctx := context.Background()
	r := local.New(nil)

	_, err := r.Weight(ctx, spec(fake(t, http.StatusOK, "<html>not a router</html>")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "without a weight")

	// A router that accepts but serves another weight must not pass.
	err = r.SetWeight(ctx, spec(fake(t, http.StatusOK, `{"weight":5}`)), 10)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "router answered weight 5")
	assert.False(t, errors.Is(err, rollout.ErrPermanent))
}

func TestConnectionErrorsAreRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	err = local.New(nil).SetWeight(context.Background(), spec(url), 10)
	require.Error(t, err)
	assert.False(t, errors.Is(err, rollout.ErrPermanent))
	assert.Contains(t, err.Error(), "calling router")
}

func TestContextAndClientTimeout(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })

	r := local.New(&http.Client{Timeout: 100 * time.Millisecond})
	_, err := r.Weight(context.Background(), spec(srv.URL))
	require.Error(t, err)
	assert.False(t, errors.Is(err, rollout.ErrPermanent), "a hung router is worth retrying")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = local.New(nil).Weight(ctx, spec(srv.URL))
	assert.ErrorIs(t, err, context.Canceled)
}
