package prometheus_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	promsource "github.com/canaryflow/canaryflow/activities/metrics/prometheus"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/middleware"
	"github.com/canaryflow/canaryflow/rollout"
)

// kubeWindow is the analysis window of the Kubernetes-labels test: long
// enough that every figure rests on ten scrapes.
const kubeWindow = 10 * time.Second

// kubePod stands in for one pod of a Deployment made by deploy/charts/app: a
// server behind the project's own metrics middleware (which labels its
// series version=<role> itself), scraped with the target labels kubernetes_sd
// and the usual relabelling give a pod (namespace, pod, container, and the
// pod's labels app, version and pod_template_hash).
type kubePod struct {
	namespace, name, app, version, hash string
	rate                                float64       // requests per second driven at it
	errEvery                            int           // every errEvery-th request is a 500
	latency                             time.Duration // how long each request takes at least
}

// targetLabels are the labels Prometheus attaches to every series scraped
// from the pod. job is the one scrape job of all pods, as with kubernetes_sd;
// a static job label overrides the scrape config's job name.
func (p kubePod) targetLabels() map[string]string {
	return map[string]string{
		"job": "kubernetes-pods", "namespace": p.namespace, "pod": p.name, "container": "app",
		"app": p.app, "version": p.version, "pod_template_hash": p.hash,
	}
}

// serve starts the pod: /metrics for Prometheus, everything else served
// through middleware.Metrics, failing every errEvery-th request.
func (p kubePod) serve(t *testing.T) *httptest.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := middleware.NewMetrics(reg, middleware.MetricsOptions{Routes: []string{"/api/properties"}})
	require.NoError(t, err)
	var served atomic.Int64
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := served.Add(1) - 1
		time.Sleep(p.latency)
		if n%int64(p.errEvery) == 0 {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", m.Handler(middleware.FixedVersion(p.version), app))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// drive sends rate requests per second to url, each on its own goroutine so
// slow pods get the same rate, until ctx is done; wg tracks every request.
func drive(ctx context.Context, wg *sync.WaitGroup, hc *http.Client, url string, rate float64) {
	start, n := time.Now(), 0
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for due := int(time.Since(start).Seconds() * rate); n < due; n++ {
			wg.Go(func() {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					return
				}
				resp, err := hc.Do(req)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// TestKubernetesScrapeLabels runs what a Kubernetes Prometheus sees of two
// releases of app "shop" (prod and staging) and of another app in prod, all
// made with the app chart, and checks that a spec for shop in prod measures
// exactly shop's prod pods of each version: the two stable pods add up, the
// canary is its one pod, and neither staging nor the other app leak in.
func TestKubernetesScrapeLabels(t *testing.T) {
	pods := []kubePod{
		// shop in prod: stable 2 × 15 req/s with 5 % errors, fast; canary
		// 10 req/s with 10 % errors, ≥ 30 ms (p95 in the 25–50 ms bucket).
		{namespace: "prod", name: "shop-stable-5d8f7-x2k9p", app: "shop", version: "stable", hash: "5d8f7", rate: 15, errEvery: 20},
		{namespace: "prod", name: "shop-stable-5d8f7-q7w4z", app: "shop", version: "stable", hash: "5d8f7", rate: 15, errEvery: 20},
		{namespace: "prod", name: "shop-canary-6c4b9-m3n8v", app: "shop", version: "canary", hash: "6c4b9", rate: 10, errEvery: 10, latency: 30 * time.Millisecond},
		// shop's own canary in staging: busy, failing half, slow.
		{namespace: "staging", name: "shop-canary-77f6d-h5j2r", app: "shop", version: "canary", hash: "77f6d", rate: 40, errEvery: 2, latency: 600 * time.Millisecond},
		// Another app of the same chart in prod: busy, failing half, slower.
		{namespace: "prod", name: "other-stable-8a1c3-t6y1u", app: "other", version: "stable", hash: "8a1c3", rate: 45, errEvery: 2, latency: 1200 * time.Millisecond},
	}
	shopStable, shopCanary, staging, other := pods[:2], pods[2], pods[3], pods[4]

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	t.Cleanup(hc.CloseIdleConnections)
	ctx, cancel := context.WithCancel(context.Background())
	var requests sync.WaitGroup
	jobs := map[string][]string{}
	labels := map[string]map[string]string{}
	for _, p := range pods {
		srv := p.serve(t)
		// One scrape job per pod only to give each target its own labels;
		// the static job label makes them all job="kubernetes-pods".
		job := p.namespace + "/" + p.name
		jobs[job] = []string{strings.TrimPrefix(srv.URL, "http://")}
		labels[job] = p.targetLabels()
		requests.Go(func() { drive(ctx, &requests, hc, srv.URL+"/api/properties", p.rate) })
	}
	// Registered after the servers, so it runs before they close.
	t.Cleanup(func() { cancel(); requests.Wait() })

	prom := testenv.PrometheusWith(t, devstack.PrometheusOptions{Jobs: jobs, JobLabels: labels})
	src := promsource.New(prom.URL())
	// The example specs' metrics section: only the namespace; the app comes
	// from the spec.
	shopIn := func(namespace string) rollout.Spec {
		s := spec("", map[string]string{"namespace": namespace})
		s.App, s.Namespace = "shop", namespace
		return s
	}
	client, err := promapi.NewClient(promapi.Config{Address: prom.URL()})
	require.NoError(t, err)
	api := promv1.NewAPI(client)
	// Every pod scraped at least once, then a full window of scrapes.
	require.Eventually(t, func() bool {
		res, _, _, err := api.Query(context.Background(), `count(up{job="kubernetes-pods"} == 1)`, time.Now())
		v, ok := res.(model.Vector)
		return err == nil && ok && len(v) == 1 && int(v[0].Value) == len(pods)
	}, 20*time.Second, 100*time.Millisecond, "prometheus never scraped every pod; log:\n%s", prom.LogTail())
	time.Sleep(kubeWindow + 1500*time.Millisecond)

	bg := context.Background()
	// eval evaluates q at at and returns its one value.
	eval := func(t *testing.T, q string, at time.Time) float64 {
		t.Helper()
		res, _, _, err := api.Query(bg, q, at)
		require.NoError(t, err, q)
		switch r := res.(type) {
		case model.Vector:
			require.Len(t, r, 1, "%s returned %v", q, r)
			return float64(r[0].Value)
		case *model.Scalar:
			return float64(r.Value)
		}
		require.Failf(t, "unexpected result", "%s returned a %s", q, res.Type())
		return 0
	}
	rng := fmt.Sprintf("[%ds]", int(kubeWindow/time.Second))
	// podsMatch selects exactly the given pods, by namespace and name only.
	podsMatch := func(ps ...kubePod) string {
		names := make([]string, len(ps))
		for i, p := range ps {
			names[i] = p.name
		}
		return fmt.Sprintf(`namespace=%q,pod=~%q`, ps[0].namespace, strings.Join(names, "|"))
	}

	t.Run("series carry the pod's labels and the app's version", func(t *testing.T) {
		sets, _, _, err := api.Series(bg, []string{fmt.Sprintf(`%s_count{pod=%q}`, metric, shopCanary.name)}, time.Now().Add(-time.Minute), time.Now())
		require.NoError(t, err)
		require.NotEmpty(t, sets)
		for _, s := range sets {
			assert.Equal(t, model.LabelValue("kubernetes-pods"), s["job"])
			assert.Equal(t, model.LabelValue("prod"), s["namespace"])
			assert.Equal(t, model.LabelValue("shop"), s["app"])
			// The target's version (the pod label) wins; the middleware's own
			// version label is kept as exported_version, and they agree.
			assert.Equal(t, model.LabelValue("canary"), s["version"])
			assert.Equal(t, model.LabelValue("canary"), s["exported_version"])
		}
		// Two stable pods, two distinct pod labels the figures must sum over.
		assert.Equal(t, 2.0, eval(t, fmt.Sprintf(`count(count by (pod) (%s_count{namespace="prod",app="shop",version="stable"}))`, metric), time.Now()))
	})

	t.Run("check passes for shop in prod", func(t *testing.T) {
		require.NoError(t, src.Check(bg, shopIn("prod")))
		require.NoError(t, src.Check(bg, shopIn("staging")))
	})

	t.Run("measure aggregates exactly shop's prod pods of each version", func(t *testing.T) {
		s, err := src.Measure(bg, shopIn("prod"), kubeWindow)
		require.NoError(t, err, "one series per figure however many pods")
		t.Logf("stable %+v", s.Stable)
		t.Logf("canary %+v", s.Canary)
		for _, role := range []string{"canary", "stable"} {
			sel := fmt.Sprintf(`version=%q,app="shop",namespace="prod"`, role)
			assert.Contains(t, s.Queries[role+".requestRate"], sel, "the app comes from the spec")
		}

		// Against what was driven: the stable rate is both stable pods'.
		// Had the other app leaked in, stable would read 75 req/s, 32 %
		// errors, p95 > 1 s; had staging, canary 50 req/s, 42 %, p95 > 0.5 s.
		assert.InEpsilon(t, shopStable[0].rate+shopStable[1].rate, float64(s.Stable.RequestRate), 0.2)
		assert.InEpsilon(t, shopCanary.rate, float64(s.Canary.RequestRate), 0.2)
		assert.InDelta(t, 0.05, float64(s.Stable.ErrorRate), 0.015)
		assert.InDelta(t, 0.10, float64(s.Canary.ErrorRate), 0.03)
		assert.Less(t, float64(s.Stable.P95), 0.25)
		assert.GreaterOrEqual(t, float64(s.Canary.P95), 0.025)
		assert.Less(t, float64(s.Canary.P95), 0.25)

		// Exactly: at one instant, each resolved query equals the same figure
		// computed from the chosen pods by name, and differs from the pods
		// it must leave out.
		at := time.Now()
		rate := func(match string) float64 {
			return eval(t, fmt.Sprintf(`sum(rate(%s_count{%s}%s))`, metric, match, rng), at)
		}
		errs := func(match string) float64 {
			return eval(t, fmt.Sprintf(`sum(rate(%s_count{%s,code=~"5.."}%s))`, metric, match, rng), at)
		}
		p95 := func(match string) float64 {
			return eval(t, fmt.Sprintf(`histogram_quantile(0.95, sum by (le) (rate(%s_bucket{%s}%s)))`, metric, match, rng), at)
		}
		for role, chosen := range map[string][]kubePod{"stable": shopStable, "canary": {shopCanary}} {
			match := podsMatch(chosen...)
			want := rate(match)
			assert.InEpsilon(t, want, eval(t, s.Queries[role+".requestRate"], at), 1e-9, role)
			assert.InEpsilon(t, errs(match)/want, eval(t, s.Queries[role+".errorRate"], at), 1e-9, role)
			assert.InEpsilon(t, p95(match), eval(t, s.Queries[role+".p95"], at), 1e-9, role)
		}
		var sum float64
		for _, p := range shopStable {
			r := rate(podsMatch(p))
			assert.Greater(t, r, 0.0, "pod %s served", p.name)
			sum += r
		}
		assert.InEpsilon(t, sum, eval(t, s.Queries["stable.requestRate"], at), 1e-9, "the stable pods add up")
		assert.Greater(t, rate(podsMatch(other)), sum, "the other app is busier than shop's stable")
		assert.Greater(t, rate(podsMatch(staging)), 2*rate(podsMatch(shopCanary)), "staging is busier than shop's canary")

	})

	t.Run("staging is measured on its own", func(t *testing.T) {
		s, err := src.Measure(bg, shopIn("staging"), kubeWindow)
		// No stable pod in staging: the canary is measured, stable is missing.
		require.NoError(t, err)
		assert.InEpsilon(t, staging.rate, float64(s.Canary.RequestRate), 0.2)
		assert.InDelta(t, 0.5, float64(s.Canary.ErrorRate), 0.05)
		assert.True(t, s.Stable.RequestRate.Missing())
	})

	t.Run("a label in the spec names the app itself", func(t *testing.T) {
		// The release is called storefront but its pods say app=shop.
		sp := shopIn("prod")
		sp.App = "storefront"
		sp.Metrics.Prometheus.Labels["app"] = "shop"
		s, err := src.Measure(bg, sp, kubeWindow)
		require.NoError(t, err)
		assert.InEpsilon(t, shopStable[0].rate+shopStable[1].rate, float64(s.Stable.RequestRate), 0.2)
		assert.NotContains(t, s.Queries["stable.requestRate"], "storefront")
		assert.Equal(t, map[string]string{"namespace": "prod", "app": "shop"}, sp.Metrics.Prometheus.Labels, "the spec is not changed")
	})

	t.Run("an app without a canary has no data", func(t *testing.T) {
		sp := shopIn("prod")
		sp.App = "other"
		s, err := src.Measure(bg, sp, kubeWindow)
		require.ErrorIs(t, err, rollout.ErrNoData)
		assert.True(t, s.Canary.RequestRate.Missing())
		assert.InEpsilon(t, other.rate, float64(s.Stable.RequestRate), 0.2)
	})

	t.Run("a namespace without pods: no data, and check names the selector", func(t *testing.T) {
		sp := shopIn("dev")
		s, err := src.Measure(bg, sp, kubeWindow)
		require.ErrorIs(t, err, rollout.ErrNoData)
		assert.Contains(t, err.Error(), `namespace="dev"`)
		assert.True(t, s.Canary.RequestRate.Missing())
		assert.True(t, s.Stable.RequestRate.Missing())

		err = src.Check(bg, sp)
		require.ErrorIs(t, err, rollout.ErrUnknownMetric)
		assert.Contains(t, err.Error(), `app="shop",namespace="dev"`)
	})
}
