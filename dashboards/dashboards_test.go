package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/middleware"
)

const (
	rulesFile     = "prometheus/canary-rules.yml"
	rulesUnitFile = "testdata/canary-rules.test.yml"
	dashboardFile = "grafana/canary-comparison.json"

	// app is the static app label the test's scrape jobs carry, as the
	// demo's do.
	app = "shop"
)

// The rules the rule file must define: one recording rule per figure the
// rollback rules need, and one alert per rollback rule of the reference
// system, with the `for:` that keeps its reaction time.
var (
	wantRecords = []string{
		"app_version:http_requests:rate1m",
		"app_version:http_requests_5xx:ratio_rate1m",
		"app_version:http_request_duration_seconds:p95_rate1m",
		"app_version:http_request_duration_seconds:p99_rate1m",
	}
	wantAlerts = map[string]time.Duration{
		"CanaryHighErrorRate":        time.Minute,     // canary error rate > 5 %
		"CanaryHighLatency":          time.Minute,     // canary p95 > 2 s
		"CanaryErrorRateAboveStable": 3 * time.Minute, // canary error rate > stable + 3 points
		"CanaryLatencyAboveStable":   3 * time.Minute, // canary p95 > 1.5 × stable p95
	}
)

// The reference dashboard's panels, in order.
var wantPanels = []string{
	"Request rate: canary vs stable",
	"Error rate (5xx)",
	"Response time P95",
	"Response time P99",
	"Memory usage (average per process)",
	"CPU usage (average per process, % of one core)",
	"Canary pods running",
	"Stable pods running",
	"Canary traffic percentage",
	"Canary health status",
}

func promtool(t *testing.T) string {
	t.Helper()
	dir, err := devstack.BinDir()
	require.NoError(t, err)
	bin, err := devstack.Binary(dir, "promtool")
	require.NoError(t, err, "promtool comes with tools/prometheus/install.sh (make tools)")
	return bin
}

func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestRulesPassPromtoolCheck(t *testing.T) {
	t.Parallel()
	runPromtool(t, ".", "check", "rules", rulesFile)
}

// TestRulesUnit runs the promtool unit tests of testdata/, which replay
// synthetic series through the rules: the thresholds, the `for:` waits, the
// minimum traffic, the router's duplicate series and the annotation
// templates, none of which a real server can show within a test's seconds.
func TestRulesUnit(t *testing.T) {
	t.Parallel()
	runPromtool(t, filepath.Dir(rulesUnitFile), "test", "rules", filepath.Base(rulesUnitFile))
}

// dashboard is the part of Grafana's dashboard JSON model the tests read.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Refresh       string `json:"refresh"`
	Time          struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *datasourceRef  `json:"datasource"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Datasource  *datasourceRef `json:"datasource"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(raw, &d), "parsing %s", dashboardFile)
	return d
}

// promDS is how every panel and query must name its data source, so that
// choosing a Prometheus in the datasource variable switches all of them.
var promDS = datasourceRef{Type: "prometheus", UID: "${datasource}"}

func TestDashboardModel(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	assert.Equal(t, "canaryflow-canary-comparison", d.UID, "alert annotations point at this uid")
	assert.Equal(t, "10s", d.Refresh)
	assert.Equal(t, "now-30m", d.Time.From)
	assert.Equal(t, "now", d.Time.To)
	assert.GreaterOrEqual(t, d.SchemaVersion, 36, "datasource references as objects need schemaVersion >= 36")

	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		assert.NotContains(t, vars, v.Name, "variable %q is defined twice", v.Name)
		vars[v.Name] = v
	}
	if assert.Contains(t, vars, "datasource") {
		assert.Equal(t, "datasource", vars["datasource"].Type)
		assert.JSONEq(t, `"prometheus"`, string(vars["datasource"].Query))
	}
	if assert.Contains(t, vars, "app") {
		assert.Equal(t, "query", vars["app"].Type)
		assert.Equal(t, "label_values(http_requests_total, app)", vars["app"].Definition)
		assert.Equal(t, &promDS, vars["app"].Datasource)
	}

	var titles []string
	ids := map[int]bool{}
	for _, p := range d.Panels {
		titles = append(titles, p.Title)
		assert.NotZero(t, p.ID, "panel %q has no id", p.Title)
		assert.False(t, ids[p.ID], "panel id %d is used twice", p.ID)
		ids[p.ID] = true
		assert.NotEmpty(t, p.Description, "panel %q", p.Title)
		assert.Equal(t, &promDS, p.Datasource, "panel %q", p.Title)
		assert.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		assert.True(t, p.GridPos.W > 0 && p.GridPos.H > 0 && p.GridPos.X+p.GridPos.W <= 24,
			"panel %q: gridPos %+v does not fit Grafana's 24 columns", p.Title, p.GridPos)
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			assert.NotEmpty(t, tg.Expr, "panel %q query %s", p.Title, tg.RefID)
			assert.False(t, refs[tg.RefID], "panel %q: refId %s is used twice", p.Title, tg.RefID)
			refs[tg.RefID] = true
			assert.Equal(t, &promDS, tg.Datasource, "panel %q query %s", p.Title, tg.RefID)
			for _, name := range variableRefs(tg.Expr) {
				_, ok := vars[name]
				assert.True(t, ok || builtins[name] != "", "panel %q query %s uses undefined variable $%s", p.Title, tg.RefID, name)
			}
		}
	}
	assert.Equal(t, wantPanels, titles)
	assert.Len(t, ids, 10)
}

// builtins are Grafana's own variables and what the tests substitute for
// them: the 1m a 15 s scrape interval gives $__rate_interval.
var builtins = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__interval_ms":   "15000",
	"__range":         "30m",
	"__range_s":       "1800",
	"__range_ms":      "1800000",
}

// varRe matches Grafana's three variable syntaxes: $name, ${name} or
// ${name:format}, and [[name]].
var varRe = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

func variableRefs(s string) []string {
	var out []string
	for _, m := range varRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1]+m[2]+m[3])
	}
	return out
}

// interpolate substitutes variables the way Grafana would for a single
// selected value; an unknown variable fails the test rather than reaching
// Prometheus as a literal "$x".
func interpolate(t *testing.T, s string, values map[string]string) string {
	t.Helper()
	return varRe.ReplaceAllStringFunc(s, func(ref string) string {
		name := variableRefs(ref)[0]
		if v, ok := values[name]; ok {
			return v
		}
		if v, ok := builtins[name]; ok {
			return v
		}
		t.Errorf("no test value for variable $%s in %q", name, s)
		return ref
	})
}

// newApp serves one version of a demo-like app: request metrics through
// package middleware and process metrics in its own registry, as
// demo/app does, with /metrics for Prometheus.
func newApp(t *testing.T, version string, h http.Handler) *httptest.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := middleware.NewMetrics(reg, middleware.MetricsOptions{Routes: []string{"/api/properties"}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", m.Handler(middleware.FixedVersion(version), h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// newRouter proxies to stable and canary like demo/router: a Splitter in
// front, request metrics labelled with the version each request went to,
// and the router's own process metrics. It exports both versions from one
// target, which is what the dashboard's per-version joins must cope with.
func newRouter(t *testing.T, stable, canary *httptest.Server) *httptest.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := middleware.NewMetrics(reg, middleware.MetricsOptions{Routes: []string{"/api/properties"}})
	require.NoError(t, err)
	proxy := func(srv *httptest.Server) http.Handler {
		u, err := url.Parse(srv.URL)
		require.NoError(t, err)
		rp := httputil.NewSingleHostReverseProxy(u)
		// A failed upstream is a 502 of that version, as in demo/router;
		// the requests the load cancels at the end need no log line.
		rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.WriteHeader(http.StatusBadGateway)
		}
		return rp
	}
	split := middleware.NewSplitter(middleware.SplitConfig{Weight: 50})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", split.Handler(
		m.Handler(middleware.FixedVersion(middleware.VersionStable), proxy(stable)),
		m.Handler(middleware.FixedVersion(middleware.VersionCanary), proxy(canary)),
	))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// drive sends requests through the router from a few workers until the
// test ends; the pause keeps a 2-core machine responsive.
func drive(t *testing.T, target string) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	hc := &http.Client{Timeout: 10 * time.Second}
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+"/api/properties", nil)
				if err != nil {
					return
				}
				if resp, err := hc.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
}

func hostPort(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	_, _, err = net.SplitHostPort(u.Host)
	require.NoError(t, err)
	return u.Host
}

// TestOnRealPrometheus loads the rules into a real Prometheus scraping a
// healthy stable and a canary that fails half its requests and answers the
// other half in 2.1 s, behind a router, then checks that the rules load and
// record, that every rollback alert goes pending for the canary, and that
// every query of the dashboard runs on that server and shows what its panel
// claims.
func TestOnRealPrometheus(t *testing.T) {
	start := time.Now()
	stable := newApp(t, middleware.VersionStable, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	var n atomic.Int64
	canary := newApp(t, middleware.VersionCanary, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		}
		select {
		case <-time.After(2100 * time.Millisecond):
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "ok, slowly")
	}))
	router := newRouter(t, stable, canary)
	drive(t, router.URL)

	rules, err := filepath.Abs(rulesFile)
	require.NoError(t, err)
	prom := testenv.PrometheusWith(t, devstack.PrometheusOptions{
		Jobs: map[string][]string{
			"demo":   {hostPort(t, stable), hostPort(t, canary)},
			"router": {hostPort(t, router)},
		},
		JobLabels: map[string]map[string]string{"demo": {"app": app}, "router": {"app": app}},
		RuleFiles: []string{rules},
	})
	api := promAPI{base: prom.URL(), hc: &http.Client{Timeout: 10 * time.Second}}

	t.Run("rules load, record and alert", func(t *testing.T) {
		var last string
		deadline := time.Now().Add(30 * time.Second)
		for {
			ok, state, err := rulesState(api)
			require.NoError(t, err)
			if ok {
				t.Logf("every rule healthy, recorded and alerting after %s:\n%s", time.Since(start).Round(time.Millisecond), state)
				break
			}
			last = state
			if time.Now().After(deadline) {
				t.Fatalf("rules not all healthy, recorded and alerting within 30s:\n%s", last)
			}
			time.Sleep(500 * time.Millisecond)
		}
		for _, rec := range wantRecords {
			res, err := api.query(rec + `{app="` + app + `"}`)
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{"canary", "stable"}, res.label("version"), "%s", rec)
		}
		res, err := api.query(`app_version:http_request_duration_seconds:p95_rate1m{app="` + app + `", version="canary"}`)
		require.NoError(t, err)
		require.Len(t, res, 1)
		assert.Greater(t, res[0].value, 2.0, "canary p95 with half the requests at 2.1 s")
	})

	t.Run("every dashboard query runs", func(t *testing.T) {
		d := loadDashboard(t)
		values := map[string]string{"app": app, "proxy_job": "router", "ingress": app, "datasource": "prometheus"}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			sel, label := labelValues(t, v.Definition)
			series, err := api.series(interpolate(t, sel, values))
			require.NoError(t, err, "variable %s: %s", v.Name, v.Definition)
			if v.Name == "app" {
				var apps []string
				for _, s := range series {
					apps = append(apps, s[label])
				}
				assert.Contains(t, apps, app, "variable app offers the scraped app")
			}
		}
		results := map[string]vector{}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				q := interpolate(t, tg.Expr, values)
				res, err := api.query(q)
				if assert.NoError(t, err, "panel %d %q query %s:\n%s", p.ID, p.Title, tg.RefID, q) {
					results[fmt.Sprintf("%d%s", p.ID, tg.RefID)] = res
				}
			}
		}
		versions := []string{"canary", "stable"}
		for _, key := range []string{"1A", "2A", "3A", "4A", "5A", "6A"} {
			assert.ElementsMatch(t, versions, results[key].label("version"), "panel query %s shows both versions, once each", key)
		}
		for _, key := range []string{"7B", "8B"} {
			if assert.Len(t, results[key], 1, key) {
				assert.Equal(t, 1.0, results[key][0].value, "panel query %s: one process per version; the router is no pod", key)
			}
		}
		for _, key := range []string{"9A", "9C"} {
			if assert.Len(t, results[key], 1, key) {
				assert.InDelta(t, 50, results[key][0].value, 45, "panel query %s: canary share of a 50 %% split", key)
			}
		}
		assert.Empty(t, results["9B"], "no ingress-nginx here")
		if assert.Len(t, results["10A"], 1) {
			assert.GreaterOrEqual(t, results["10A"][0].value, 1.0, "health shows the breached rollback rules")
		}

		// Without the router excluded by name, the memory and CPU joins must
		// still work: the router serves both versions and is left out.
		noProxy := map[string]string{"app": app, "proxy_job": "", "ingress": app}
		for _, p := range d.Panels[4:6] {
			q := interpolate(t, p.Targets[0].Expr, noProxy)
			res, err := api.query(q)
			if assert.NoError(t, err, "panel %q with no proxy job:\n%s", p.Title, q) {
				assert.ElementsMatch(t, versions, res.label("version"), "panel %q with no proxy job", p.Title)
			}
		}
	})
	t.Logf("took %s", time.Since(start).Round(time.Millisecond))
}

// rulesState reports whether every wanted rule is loaded and healthy, each
// recording rule has produced series for both versions and each alert is
// pending or firing for the app, with a summary for the log.
func rulesState(api promAPI) (bool, string, error) {
	var data struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name      string  `json:"name"`
				Type      string  `json:"type"`
				Health    string  `json:"health"`
				LastError string  `json:"lastError"`
				Duration  float64 `json:"duration"`
				Alerts    []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := api.get("/api/v1/rules", nil, &data); err != nil {
		return false, "", err
	}
	var b strings.Builder
	ok := true
	seen := map[string]bool{}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			seen[r.Name] = true
			fmt.Fprintf(&b, "  %s/%s %s health=%s %s", g.Name, r.Name, r.Type, r.Health, r.LastError)
			if r.Health != "ok" {
				ok = false
			}
			switch r.Type {
			case "alerting":
				if want, known := wantAlerts[r.Name]; known && time.Duration(r.Duration*float64(time.Second)) != want {
					return false, "", fmt.Errorf("alert %s waits %gs, want %s", r.Name, r.Duration, want)
				}
				active := false
				for _, a := range r.Alerts {
					fmt.Fprintf(&b, " [%s %s]", a.State, a.Labels["app"])
					active = active || a.Labels["app"] == app && (a.State == "pending" || a.State == "firing")
				}
				ok = ok && active
			case "recording":
				res, err := api.query(r.Name + `{app="` + app + `"}`)
				if err != nil {
					return false, "", err
				}
				fmt.Fprintf(&b, " versions=%v", res.label("version"))
				ok = ok && len(res) == 2
			}
			b.WriteString("\n")
		}
	}
	for _, name := range wantRecords {
		if !seen[name] {
			return false, "", fmt.Errorf("recording rule %s is not loaded", name)
		}
	}
	for name := range wantAlerts {
		if !seen[name] {
			return false, "", fmt.Errorf("alert %s is not loaded", name)
		}
	}
	return ok, b.String(), nil
}

var labelValuesRe = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// labelValues splits a label_values(selector, label) variable query.
func labelValues(t *testing.T, def string) (selector, label string) {
	t.Helper()
	m := labelValuesRe.FindStringSubmatch(strings.TrimSpace(def))
	require.NotNil(t, m, "variable query %q is not label_values(selector, label)", def)
	return m[1], m[2]
}

// promAPI is the few calls of Prometheus's HTTP API the tests make.
type promAPI struct {
	base string
	hc   *http.Client
}

func (p promAPI) get(path string, params url.Values, data any) error {
	u := p.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	resp, err := p.hc.Get(u)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("GET %s: decoding the answer (HTTP %d): %w", path, resp.StatusCode, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("GET %s: %s: %s", path, env.ErrorType, env.Error)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		return fmt.Errorf("GET %s: decoding data: %w", path, err)
	}
	return nil
}

type sample struct {
	metric map[string]string
	value  float64
}

type vector []sample

// label returns the values of a label across the vector, sorted.
func (v vector) label(name string) []string {
	var out []string
	for _, s := range v {
		out = append(out, s.metric[name])
	}
	slices.Sort(out)
	return out
}

// query runs an instant query now; a query Prometheus rejects is an error.
func (p promAPI) query(q string) (vector, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {q}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: got a %s, panels want an instant vector", q, data.ResultType)
	}
	out := make(vector, 0, len(data.Result))
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v: %w", q, r.Value[1], err)
		}
		out = append(out, sample{metric: r.Metric, value: v})
	}
	return out, nil
}

// series lists the series matching a selector over the last 30 minutes, as
// Grafana does to fill a label_values variable.
func (p promAPI) series(match string) ([]map[string]string, error) {
	var out []map[string]string
	now := time.Now()
	err := p.get("/api/v1/series", url.Values{
		"match[]": {match},
		"start":   {strconv.FormatInt(now.Add(-30*time.Minute).Unix(), 10)},
		"end":     {strconv.FormatInt(now.Unix(), 10)},
	}, &out)
	return out, err
}
