package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"sigs.k8s.io/yaml"

	"github.com/canaryflow/canaryflow/activities"
	deploymem "github.com/canaryflow/canaryflow/activities/deploy/memory"
	"github.com/canaryflow/canaryflow/activities/metrics/prometheus"
	notifyslack "github.com/canaryflow/canaryflow/activities/notify/slack"
	trafficlocal "github.com/canaryflow/canaryflow/activities/traffic/local"
	trafficmem "github.com/canaryflow/canaryflow/activities/traffic/memory"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/demo/app"
	"github.com/canaryflow/canaryflow/demo/router"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

// The secrets of this test. The worker holds the Prometheus password; the
// router and smoke tokens are only ever offered in specs, which validation
// refuses. Each is distinctive so a scan cannot match it by accident.
const (
	promPassword = "PromPassw0rd-4c1d"
	routerToken  = "RouterT0ken-9e7a"
	smokeToken   = "SmokeT0ken-51f3"
)

var secrets = []string{promPassword, routerToken, smokeToken,
	base64.StdEncoding.EncodeToString([]byte("promuser:" + promPassword))}

// TestSecretsNeverLeakIntoHistoryLogsReportsOrSlack first offers specs with
// credentials in their URLs and checks they are refused before anything is
// touched. Then it runs two real rollouts on a real Temporal dev server,
// measured by a real Prometheus that demands the worker's basic-auth
// credentials, with failures that force URLs into error text: Prometheus
// drops its first requests (Preflight and the first measurement fail on
// it), the router drops its first weight change, and one rollout's canary
// smoke URL points at nothing. Then it scans every history event (every
// payload decoded, the spec included), the status, the worker's logs, the
// incident reports and the Slack messages for the secrets: none may be
// anywhere.
func TestSecretsNeverLeakIntoHistoryLogsReportsOrSlack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	logs := captureLogs(t)

	// The app: stable and canary demo services behind the demo router.
	_, stableURL := startApp(t, "v1", "stable")
	canaryApp, canaryURL := startApp(t, "v2", "canary")
	publicURL, adminAddr := startRouter(t, stableURL, canaryURL)
	go sendLoad(ctx, publicURL)

	prom := testenv.PrometheusWith(t, devstack.PrometheusOptions{
		Jobs:      map[string][]string{"router": {adminAddr}},
		JobLabels: map[string]map[string]string{"router": {"app": "secrets"}},
	})
	require.Eventually(t, func() bool {
		return prometheus.New(prom.URL()).Check(ctx, secretSpec("scraped", prom.URL())) == nil
	}, 30*time.Second, 200*time.Millisecond, "Prometheus never scraped the router; log:\n%s", prom.LogTail())
	// Flaky fronts: Prometheus drops its first series request and its first
	// two queries, the router its first weight change, each by closing the
	// connection, so net/http's error quotes the URL it was asked. The
	// Prometheus front answers 401 to a request without the worker's
	// credentials, so a measurement proves they were sent.
	promAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("promuser:"+promPassword))
	promFront := flaky(t, prom.URL(), promAuth, map[string]int{"/api/v1/series": 1, "/api/v1/query": 2})
	adminFront := flaky(t, "http://"+adminAddr, "", map[string]int{"PUT /weight": 1})
	workerPromURL := strings.Replace(promFront, "http://", "http://promuser:"+promPassword+"@", 1)
	closedURL := "http://" + closedAddr(t)

	slackMsgs := startSlack(t)
	srv := testenv.Temporal(t)
	c, err := client.Dial(client.Options{HostPort: srv.Address(), Namespace: srv.Namespace(),
		Logger: sdklog.NewStructuredLogger(slog.Default())})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	// Rollout 1 names the worker's Prometheus (without credentials), is
	// judged by it, and rolls back when its canary starts failing.
	analysed := secretSpec("secrets", promFront)
	analysed.Traffic = rollout.Traffic{Kind: "local", Local: &rollout.LocalTraffic{AdminURL: adminFront}}
	analysed.Smoke = rollout.Smoke{BaseURL: publicURL + "/?env=it", MaxLatencyRatio: rollout.MaxLatencyRatioLimit}
	// Rollout 2 names no Prometheus (the worker's is used); its canary smoke
	// URL reaches nothing, so its smoke report quotes it.
	smoked := secretSpec("secrets-smoke", "")
	smoked.Traffic = rollout.Traffic{Kind: "memory"}
	smoked.Smoke = rollout.Smoke{CanaryURL: closedURL + "/?env=it", StableURL: stableURL + "/?env=it"}

	// The same rollouts with credentials in their URLs are refused by
	// control.Start and rollout.Parse before anything is touched.
	for field, bad := range map[string]func(*rollout.Spec){
		"metrics.prometheus.address": func(s *rollout.Spec) { s.Metrics.Prometheus.Address = workerPromURL },
		"traffic.local.adminURL":     func(s *rollout.Spec) { s.Traffic.Local.AdminURL = adminFront + "/?token=" + routerToken },
		"smoke.baseURL":              func(s *rollout.Spec) { s.Smoke.BaseURL = publicURL + "/?token=" + smokeToken },
		"smoke.canaryURL":            func(s *rollout.Spec) { s.Smoke.CanaryURL = "http://" + smokeToken + "@" + closedAddr(t) },
	} {
		spec := analysed
		if strings.HasPrefix(field, "smoke.canary") {
			spec = smoked
		}
		// bad changes a copy: the specs started below stay as they are.
		p, l := *spec.Metrics.Prometheus, *analysed.Traffic.Local
		spec.Metrics.Prometheus = &p
		if spec.Traffic.Local != nil {
			spec.Traffic.Local = &l
		}
		bad(&spec)
		_, err := control.Start(ctx, c, spec, "it")
		var invalid *rollout.ValidationError
		require.ErrorAs(t, err, &invalid, field)
		assert.Contains(t, err.Error(), field+": must not carry credentials")
		data, err := yaml.Marshal(spec)
		require.NoError(t, err)
		_, err = rollout.Parse(data)
		require.Error(t, err, field)
		assert.Contains(t, err.Error(), field+": must not carry credentials")
		for _, s := range secrets {
			assert.NotContains(t, err.Error(), s, "the refusal does not quote the secret back")
		}
		_, err = c.DescribeWorkflowExecution(ctx, rollout.WorkflowID(spec.Namespace, spec.App), "")
		var notFound *serviceerror.NotFound
		require.ErrorAs(t, err, &notFound, "%s: no workflow was started", field)
	}

	// The worker holds the Prometheus credentials, in its default URL.
	incidents := t.TempDir()
	notifier, err := notifyslack.New("xoxb-test", "#deploys", slackMsgs.url)
	require.NoError(t, err)
	acts := &activities.Activities{
		Deployers:    map[string]activities.Deployer{"memory": deploymem.New()},
		Routers:      map[string]activities.TrafficRouter{"local": trafficlocal.New(nil), "memory": trafficmem.New()},
		Metrics:      map[string]activities.MetricsSource{"prometheus": prometheus.New(workerPromURL, prometheus.WithLogger(slog.Default()))},
		Notifiers:    map[string]activities.Notifier{"slack": notifier},
		IncidentDir:  incidents,
		PollInterval: 50 * time.Millisecond,
	}
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.CanaryRollout)
	w.RegisterActivity(acts)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	runs := map[string]client.WorkflowRun{}
	for _, spec := range []rollout.Spec{analysed, smoked} {
		run, err := control.Start(ctx, c, spec, "it")
		require.NoError(t, err, spec.App)
		runs[spec.App] = run
	}
	// Once past its smoke tests, rollout 1's canary starts failing.
	require.Eventually(t, func() bool {
		s, err := control.Status(ctx, c, runs["secrets"].GetID())
		return err == nil && (s.Phase == rollout.PhaseProgressing || s.Phase.Final())
	}, 90*time.Second, 200*time.Millisecond)
	require.NoError(t, canaryApp.SetFaults(app.Faults{ErrorRate: 0.5}))

	var plain, inputs strings.Builder // text anyone reads; decoded workflow payloads
	measured := false
	for app, run := range runs {
		res, err := control.Wait(ctx, c, run.GetID())
		require.NoError(t, err, app)
		assert.Equal(t, rollout.PhaseRolledBack, res.Phase, "%s: %s", app, res.Reason)
		s, err := control.Status(ctx, c, run.GetID())
		require.NoError(t, err)
		for _, m := range s.Measurements {
			measured = measured || !m.Sample.Canary.RequestRate.Missing()
		}
		status, err := json.Marshal(s)
		require.NoError(t, err)
		fmt.Fprintf(&plain, "status %s: %s\n%s\n", app, status, control.FormatStatus(s))
		for _, events := range historyChain(ctx, t, c, run.GetID(), run.GetRunID()) {
			text, payloads := historyText(t, events)
			plain.WriteString(text)
			inputs.WriteString(payloads)
		}
	}
	assert.True(t, measured, "Prometheus answered the worker, so its credentials were sent")
	files, err := filepath.Glob(filepath.Join(incidents, "*"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "rollbacks wrote incident reports")
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		plain.Write(b)
	}
	require.NotEmpty(t, slackMsgs.text(), "Slack was notified")
	plain.WriteString(slackMsgs.text())
	plain.WriteString(logs.String())

	// The scan works: the servers are named where the secrets would be.
	promHost := strings.TrimPrefix(promFront, "http://")
	for _, where := range []struct{ name, text string }{
		{"history, status, reports and Slack", plain.String()}, {"worker logs", logs.String()}, {"decoded payloads", inputs.String()},
	} {
		assert.Contains(t, where.text, promHost, "the Prometheus server is named in %s", where.name)
	}
	assert.Contains(t, plain.String(), strings.TrimPrefix(adminFront, "http://")+"/weight", "the router URL is named")
	assert.Contains(t, plain.String(), strings.TrimPrefix(closedURL, "http://")+"/health?env=xxxxx", "the smoke URL is named, redacted")
	assert.Contains(t, inputs.String(), `"adminURL":"`+adminFront+`"`, "decoded payloads are scanned (the spec itself is in them)")

	// The finding: no secret anywhere, decoded inputs included.
	for _, s := range secrets {
		for name, text := range map[string]string{"history, status, reports, Slack and logs": plain.String(), "decoded payloads": inputs.String()} {
			assert.False(t, strings.Contains(text, s), "secret %q found in %s:\n%s", s, name, around(text, s))
		}
	}
}

func secretSpec(app, promURL string) rollout.Spec {
	return rollout.Spec{
		Version: rollout.FormatV1, App: app, Namespace: "it",
		Stable: rollout.Release{Version: "v1"}, Canary: rollout.Release{Version: "v2"},
		Deploy:   rollout.Deploy{Kind: "memory"},
		Metrics:  rollout.Metrics{Kind: "prometheus", Prometheus: &rollout.PrometheusMetrics{Address: promURL, Labels: map[string]string{"app": "secrets"}}},
		Steps:    []rollout.Step{rollout.Weight(50), rollout.Hold(40 * time.Second)},
		Analysis: rollout.Analysis{Interval: rollout.Duration(2 * time.Second), Window: rollout.Duration(5 * time.Second)},
		Notify:   rollout.Notify{Kind: "slack"},
	}
}

// syncBuffer is a bytes.Buffer safe for the worker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// captureLogs sends every log line of this process (worker, SDK, providers)
// to a buffer for the test's duration; integration tests do not run in parallel.
func captureLogs(t *testing.T) *syncBuffer {
	var buf syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

func startApp(t *testing.T, version, role string) (*app.App, string) {
	a, err := app.New(app.Config{Version: version, Role: role, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return a, srv.URL
}

// startRouter serves the demo router in-process; it returns the public URL
// and the admin listener's host:port, which Prometheus scrapes.
func startRouter(t *testing.T, stable, canary string) (string, string) {
	r, err := router.New(router.Config{Stable: stable, Canary: canary, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	public, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, public, admin) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + public.Addr().String(), admin.Addr().String()
}

// sendLoad sends 40 requests a second through the router until ctx ends.
func sendLoad(ctx context.Context, public string) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		path := []string{"/api/properties", "/api/users"}[i%2]
		if resp, err := http.Get(public + path); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}
}

// flaky proxies to target, but closes the connection of the first n
// requests for each "path" or "METHOD path" in fail, and answers 401 to a
// request whose Authorization is not auth (when auth is set).
func flaky(t *testing.T, target, auth string, fail map[string]int) string {
	u, err := url.Parse(target)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		drop := false
		for _, k := range []string{r.URL.Path, r.Method + " " + r.URL.Path} {
			if fail[k] > 0 {
				fail[k]--
				drop = true
			}
		}
		mu.Unlock()
		if drop {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		if auth != "" && r.Header.Get("Authorization") != auth {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// slackCapture keeps every message posted to a slacktest server.
type slackCapture struct {
	url  string
	mu   sync.Mutex
	msgs []string
}

func (s *slackCapture) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.msgs, "\n")
}

func startSlack(t *testing.T) *slackCapture {
	capture := &slackCapture{}
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err == nil {
				capture.mu.Lock()
				capture.msgs = append(capture.msgs, r.PostForm.Encode(), r.PostForm.Get("text"), r.PostForm.Get("attachments"))
				capture.mu.Unlock()
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true,"channel":"C1","ts":"1"}`)
		})
	})
	srv.Start()
	t.Cleanup(srv.Stop)
	capture.url = srv.GetAPIURL()
	return capture
}

// historyChain returns the events of a run and of every run it continued
// as new into, in order.
func historyChain(ctx context.Context, t *testing.T, c client.Client, id, runID string) [][]*historypb.HistoryEvent {
	var chain [][]*historypb.HistoryEvent
	for runID != "" && len(chain) < 50 {
		it := c.GetWorkflowHistory(ctx, id, runID, false, 0)
		var events []*historypb.HistoryEvent
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			events = append(events, ev)
		}
		chain = append(chain, events)
		runID = ""
		if last := events[len(events)-1]; last.GetWorkflowExecutionContinuedAsNewEventAttributes() != nil {
			runID = last.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		}
	}
	return chain
}

// historyText renders events as JSON (failure messages, details and all
// other plain fields) and, separately, every payload decoded, which the
// JSON carries only base64-encoded.
func historyText(t *testing.T, events []*historypb.HistoryEvent) (plain, payloads string) {
	data, err := temporalproto.CustomJSONMarshalOptions{}.Marshal(&historypb.History{Events: events})
	require.NoError(t, err)
	var tree any
	require.NoError(t, json.Unmarshal(data, &tree))
	var decoded strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if d, ok := x["data"].(string); ok {
				if raw, err := base64.StdEncoding.DecodeString(d); err == nil {
					decoded.Write(raw)
					decoded.WriteString("\n")
					// Kept out of the plain text: base64 of a whole payload
					// may contain base64 of a part of it.
					x["data"] = "<payload, scanned decoded>"
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(tree)
	data, err = json.Marshal(tree)
	require.NoError(t, err)
	return string(data), decoded.String()
}

// around shows where s occurs in text, for a failure message.
func around(text, s string) string {
	i := strings.Index(text, s)
	if i < 0 {
		return ""
	}
	return text[max(0, i-200):min(len(text), i+len(s)+200)]
}
