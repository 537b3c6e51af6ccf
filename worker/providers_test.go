package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

const (
	promPassword = "PromPassw0rd-help-3a9f"
	promToken    = "PromT0ken-help-81c2"
)

// parse reads args with the worker's flags and returns the config and what
// --help prints.
func parse(t *testing.T, args ...string) (*config, string) {
	t.Helper()
	var c config
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	c.flags(fs)
	require.NoError(t, fs.Parse(args))
	usage.Reset()
	fs.PrintDefaults()
	return &c, usage.String()
}

func TestHelpShowsThePrometheusURLRedacted(t *testing.T) {
	t.Setenv("PROMETHEUS_URL", "http://reader:"+promPassword+"@prom.monitoring:9090")
	t.Setenv("PROMETHEUS_TOKEN", promToken)
	c, usage := parse(t)
	assert.Contains(t, usage, `(default "http://reader:xxxxx@prom.monitoring:9090")`, "the default is shown, redacted")
	assert.NotContains(t, usage, promPassword)
	assert.NotContains(t, usage, promToken)
	assert.Equal(t, "http://reader:"+promPassword+"@prom.monitoring:9090", c.prometheusURL, "the credentials are still used")

	// --help exits through the same flag set.
	var c2 config
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	c2.flags(fs)
	require.ErrorIs(t, fs.Parse([]string{"--help"}), flag.ErrHelp)
	assert.Contains(t, out.String(), "-prometheus-url")
	assert.NotContains(t, out.String(), promPassword)
}

// TestTheWorkerGivesItsPrometheusCredentials: a spec names the worker's
// Prometheus without credentials (it may not carry any), and the worker's
// own reach it.
func TestTheWorkerGivesItsPrometheusCredentials(t *testing.T) {
	var got []string
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":[{"__name__":"x"}]}`))
	}))
	t.Cleanup(prom.Close)
	spec := rollout.Spec{Metrics: rollout.Metrics{Kind: "prometheus", Prometheus: &rollout.PrometheusMetrics{Address: prom.URL}}}

	for name, c := range map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"PROMETHEUS_URL with user:password": {
			env:  map[string]string{"PROMETHEUS_URL": "http://reader:" + promPassword + "@" + prom.Listener.Addr().String()},
			want: "Basic " + base64.StdEncoding.EncodeToString([]byte("reader:"+promPassword)),
		},
		"--prometheus-url with user:password": {
			args: []string{"--prometheus-url", "http://reader:" + promPassword + "@" + prom.Listener.Addr().String()},
			want: "Basic " + base64.StdEncoding.EncodeToString([]byte("reader:"+promPassword)),
		},
		"PROMETHEUS_TOKEN": {
			env:  map[string]string{"PROMETHEUS_URL": prom.URL, "PROMETHEUS_TOKEN": promToken},
			want: "Bearer " + promToken,
		},
		"--prometheus-token": {
			args: []string{"--prometheus-url", prom.URL, "--prometheus-token", promToken},
			want: "Bearer " + promToken,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("PROMETHEUS_URL", "")
			t.Setenv("PROMETHEUS_TOKEN", "")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, _ := parse(t, append(c.args, "--state-dir", t.TempDir())...)
			acts, err := cfg.activities(slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			got = nil
			require.NoError(t, acts.Metrics["prometheus"].Check(context.Background(), spec))
			require.NotEmpty(t, got)
			for _, h := range got {
				assert.Equal(t, c.want, h)
			}
		})
	}
}
