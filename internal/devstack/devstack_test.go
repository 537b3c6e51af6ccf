package devstack_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/testenv"
)

func TestTemporalAcceptsClients(t *testing.T) {
	t.Parallel()
	srv := testenv.Temporal(t)
	assert.Equal(t, "default", srv.Namespace())
	assert.True(t, strings.HasPrefix(srv.UIURL(), "http://127.0.0.1:"), srv.UIURL())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := healthyClient(ctx, t, srv)
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	require.NoError(t, err)
	assert.Equal(t, "default", ns.GetNamespaceInfo().GetName())

	// The UI is served too: people watching `make demo` open it.
	resp, err := http.Get(srv.UIURL())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// Stop frees the port and is idempotent (testenv's cleanup calls it again).
	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Stop())
	_, err = net.DialTimeout("tcp", srv.Address(), time.Second)
	assert.Error(t, err, "the frontend port should be closed after Stop")
}

func TestPrometheusScrapesTargets(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	hits := prometheus.NewCounter(prometheus.CounterOpts{Name: "devstack_test_hits_total", Help: "Test counter."})
	reg.MustRegister(hits)
	hits.Add(3)
	app := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer app.Close()
	target := strings.TrimPrefix(app.URL, "http://")

	srv := testenv.PrometheusWith(t, devstack.PrometheusOptions{
		Jobs:      map[string][]string{"app": {target}},
		JobLabels: map[string]map[string]string{"app": {"env": "test"}},
	})

	resp, err := http.Get(srv.URL() + "/-/ready")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	pc, err := promapi.NewClient(promapi.Config{Address: srv.URL()})
	require.NoError(t, err)
	api := promv1.NewAPI(pc)
	// With a 1 s scrape interval the first scrape lands within a few seconds.
	var up, hitsSeen model.SampleValue
	require.Eventually(t, func() bool {
		up = scalar(t, api, `up{job="app",env="test"}`)
		hitsSeen = scalar(t, api, `devstack_test_hits_total{job="app",env="test"}`)
		return up == 1 && hitsSeen == 3
	}, 20*time.Second, 250*time.Millisecond, "prometheus never scraped the target (up=%v hits=%v); log:\n%s", up, hitsSeen, srv.LogTail())

	require.NoError(t, srv.Stop())
	_, err = http.Get(srv.URL() + "/-/ready")
	assert.Error(t, err, "the HTTP port should be closed after Stop")
}

// scalar returns the single value of query, or -1 when there is none yet.
func scalar(t *testing.T, api promv1.API, query string) model.SampleValue {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, _, _, err := api.Query(ctx, query, time.Now())
	if err != nil {
		t.Logf("query %s: %v", query, err)
		return -1
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 {
		return -1
	}
	return vec[0].Value
}

func TestMissingBinaryTellsUserToRunMakeTools(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := devstack.StartTemporal(context.Background(), devstack.TemporalOptions{BinDir: dir})
	require.ErrorIs(t, err, devstack.ErrMissingBinary)
	assert.Contains(t, err.Error(), "make tools")
	_, err = devstack.StartPrometheus(context.Background(), devstack.PrometheusOptions{BinDir: dir})
	require.ErrorIs(t, err, devstack.ErrMissingBinary)
}

// TestTemporalDynamicConfig: a setting reaches the server (it starts and
// serves with it), and a value the server refuses fails the start with the
// server's own words naming the key, instead of a wait that times out.
func TestTemporalDynamicConfig(t *testing.T) {
	t.Parallel()
	srv := testenv.TemporalWith(t, devstack.TemporalOptions{DynamicConfig: map[string]string{"history.timerTaskBatchSize": "1000"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	healthyClient(ctx, t, srv)

	refused, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{DynamicConfig: map[string]string{"history.timerTaskBatchSize": "a lot"}})
	if err == nil {
		_ = refused.Stop() // not left running when the assertion below fails
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "history.timerTaskBatchSize")
}

// healthyClient dials srv and checks the frontend answers a health check;
// the client is closed when t ends.
func healthyClient(ctx context.Context, t *testing.T, srv *devstack.Temporal) client.Client {
	t.Helper()
	c, err := client.DialContext(ctx, client.Options{HostPort: srv.Address(), Namespace: srv.Namespace()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	require.NoError(t, err)
	return c
}
