package boards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/gauge"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The selectors the canary-vs-stable queries share: the apps' own series
// (the router's duplicates in $proxy_job left out), and the targets that
// serve exactly one version — the version of a process comes from its
// http_requests_in_flight, since process metrics carry no version label.
const (
	appSeries     = `app="$app", job!~"$proxy_job"`
	bothVersions  = appSeries + `, version=~"stable|canary"`
	requests      = `http_requests_total{` + bothVersions + `}`
	inFlightBoth  = `http_requests_in_flight{` + bothVersions + `}`
	mixedTargets  = `(count by (job, instance) (group by (job, instance, version) (` + inFlightBoth + `)) > 1)`
	versionOfProc = `
  * on (job, instance) group_left (version)
  (
      group by (job, instance, version) (` + inFlightBoth + `)
    unless on (job, instance)
      ` + mixedTargets + `
  )
)`
)

func processesUp(version string) string {
	return `count(
    group by (job, instance) (http_requests_in_flight{` + appSeries + `, version="` + version + `"})
  unless on (job, instance)
    ` + mixedTargets + `
  and on (job, instance)
    (up{app="$app"} == 1)
) or vector(0)`
}

// versionColors paints canary orange and stable green on every panel.
func versionColors(b interface {
	OverrideByName(string, []dashboard.DynamicConfigValue) *timeseries.PanelBuilder
}) {
	b.OverrideByName("canary", []dashboard.DynamicConfigValue{fixedColor("orange")})
	b.OverrideByName("stable", []dashboard.DynamicConfigValue{fixedColor("green")})
}

// series is a time series panel in the dashboards' common style.
func series(id uint32, title, desc, unit string, at dashboard.GridPos) *timeseries.PanelBuilder {
	b := timeseries.NewPanelBuilder().Id(id).Title(title).Description(desc).Datasource(promDS()).GridPos(at).
		Unit(unit).ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdPaletteClassic)).
		DrawStyle(common.GraphDrawStyleLine).LineInterpolation(common.LineInterpolationLinear).LineWidth(2).FillOpacity(10).
		GradientMode(common.GraphGradientModeNone).ShowPoints(common.VisibilityModeNever).PointSize(4).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)}).AxisPlacement(common.AxisPlacementAuto).AxisSoftMin(0).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNone).Group("A")).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeOff)).
		Thresholds(thresholds("transparent")).
		Legend(legend()).Tooltip(tooltip())
	return b
}

// versionSeries is a time series of both versions, coloured.
func versionSeries(id uint32, title, desc, unit string, at dashboard.GridPos) *timeseries.PanelBuilder {
	b := series(id, title, desc, unit, at)
	versionColors(b)
	return b
}

func bigStat(id uint32, title, desc string, at dashboard.GridPos) *stat.PanelBuilder {
	return stat.NewPanelBuilder().Id(id).Title(title).Description(desc).Datasource(promDS()).GridPos(at).
		Unit("none").Decimals(0).ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		ReduceOptions(lastValue()).Orientation(common.VizOrientationAuto).TextMode(common.BigValueTextModeValueAndName).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeNone).
		JustifyMode(common.BigValueJustifyModeCenter).WideLayout(true).ShowPercentChange(false)
}

// CanaryComparison is "Canary vs Stable" (uid canaryflow-canary-comparison):
// the reference system's ten panels, canary and stable side by side, with
// the four rollback rules of dashboards/prometheus/canary-rules.yml.
func CanaryComparison() (dashboard.Dashboard, error) {
	p95 := versionSeries(3, "Response time P95",
		"95th percentile latency per version. Rollback rules: canary p95 above 2 s (red line) or above 1.5 × stable p95 (dashed line); alerts CanaryHighLatency, CanaryLatencyAboveStable.",
		"s", pos(0, 8, 12, 8)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine)).
		Thresholds(thresholds("transparent", 2, "red")).
		OverrideByQuery("B", []dashboard.DynamicConfigValue{
			fixedColor("red"),
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			{Id: "custom.fillOpacity", Value: 0},
		}).
		WithTarget(query("A", `histogram_quantile(0.95, sum by (version, le) (rate(http_request_duration_seconds_bucket{`+bothVersions+`}[$__rate_interval])))`, "{{version}}")).
		WithTarget(query("B", `1.5 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{`+appSeries+`, version="stable"}[$__rate_interval])))`, "rollback above: 1.5 × stable p95"))

	errorRate := gauge.NewPanelBuilder().Id(2).Title("Error rate (5xx)").
		Description("Share of requests answered 5xx over the rate interval. Rollback rules: canary above 5 %, or canary more than 3 points above stable (alerts CanaryHighErrorRate, CanaryErrorRateAboveStable).").
		Datasource(promDS()).GridPos(pos(12, 0, 12, 8)).
		Unit("percent").Decimals(2).Min(0).Max(20).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Thresholds(thresholds("green", 3, "orange", 5, "red")).
		ReduceOptions(lastValue()).Orientation(common.VizOrientationAuto).
		ShowThresholdLabels(false).ShowThresholdMarkers(true).Sizing(common.BarGaugeSizingAuto).
		WithTarget(instant("A", `100 * (
    sum by (version) (rate(http_requests_total{`+bothVersions+`, code=~"5.."}[$__rate_interval]))
  or
    0 * sum by (version) (rate(`+requests+`[$__rate_interval]))
)
/ sum by (version) (rate(`+requests+`[$__rate_interval]))`, "{{version}}"))

	memory := versionSeries(5, "Memory usage (average per process)",
		"Resident memory of the processes serving each version. Process metrics carry no version label: it is joined from http_requests_in_flight of the same target (job, instance), and targets serving both versions (a router, an in-process split) are left out. A process appears once it has served a request. Red line: the smoke test's 512 MiB limit.",
		"bytes", pos(0, 16, 12, 8)).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine)).
		Thresholds(thresholds("transparent", 536870912, "red")).
		WithTarget(query("A", `avg by (version) (
  process_resident_memory_bytes{`+appSeries+`}`+versionOfProc, "{{version}}"))

	cpu := versionSeries(6, "CPU usage (average per process, % of one core)",
		"CPU time per second of the processes serving each version, as a percentage of one core. The version is joined from http_requests_in_flight of the same target, as for memory.",
		"percent", pos(12, 16, 12, 8)).
		WithTarget(query("A", `100 * avg by (version) (
  rate(process_cpu_seconds_total{`+appSeries+`}[$__rate_interval])`+versionOfProc, "{{version}}"))

	canaryPods := bigStat(7, "Canary pods running",
		`Kubernetes: available replicas of the Deployment named <app>-canary from kube-state-metrics (kube_deployment_status_replicas_available); edit the deployment matcher if your chart names it differently. Everywhere (and in the demo, which has no Kubernetes): scraped targets that are up and have served canary requests and only those (http_requests_in_flight{version="canary"}; a router serving both versions is not a pod).`,
		pos(0, 24, 5, 6)).
		Thresholds(thresholds("blue")).Mappings([]dashboard.ValueMapping{}).
		WithTarget(instant("A", `sum(kube_deployment_status_replicas_available{deployment=~"$app-canary"})`, "Kubernetes (available replicas)")).
		WithTarget(instant("B", processesUp("canary"), "processes up (scraped)"))

	stablePods := bigStat(8, "Stable pods running",
		`Kubernetes: available replicas of the Deployment named <app> or <app>-stable from kube-state-metrics (kube_deployment_status_replicas_available); edit the deployment matcher if your chart names it differently. Everywhere (and in the demo, which has no Kubernetes): scraped targets that are up and have served stable requests and only those (http_requests_in_flight{version="stable"}; a router serving both versions is not a pod).`,
		pos(5, 24, 5, 6)).
		Thresholds(thresholds("red", 1, "green")).Mappings([]dashboard.ValueMapping{}).
		WithTarget(instant("A", `sum(kube_deployment_status_replicas_available{deployment=~"$app|$app-stable"})`, "Kubernetes (available replicas)")).
		WithTarget(instant("B", processesUp("stable"), "processes up (scraped)"))

	split := versionSeries(9, "Canary traffic percentage",
		"Share of requests the routing layer sends to the canary. 'router split': the demo's local router (scrape job $proxy_job), which labels requests with the version it routed to. 'ingress-nginx split': nginx_ingress_controller_requests of ingress $ingress, whose canary label is set when the canary backend served. 'served by canary': the same share measured by the apps themselves, which works behind any router (Gateway API included) when all traffic passes the split.",
		"percent", pos(10, 24, 8, 6)).
		Max(100).Decimals(1).
		WithTarget(query("A", `100 * sum(rate(http_requests_total{app="$app", job=~"$proxy_job", version="canary"}[$__rate_interval]))
/ sum(rate(http_requests_total{app="$app", job=~"$proxy_job", version=~"stable|canary"}[$__rate_interval]))`, "router split")).
		WithTarget(query("B", `100 * sum(rate(nginx_ingress_controller_requests{ingress=~"$ingress", ingress!="", canary!=""}[$__rate_interval]))
/ sum(rate(nginx_ingress_controller_requests{ingress=~"$ingress", ingress!=""}[$__rate_interval]))`, "ingress-nginx split")).
		WithTarget(query("C", `100 * sum(rate(http_requests_total{`+appSeries+`, version="canary"}[$__rate_interval]))
/ sum(rate(`+requests+`[$__rate_interval]))`, "served by canary"))

	health := bigStat(10, "Canary health status",
		"Worst state of the canary alerts of dashboards/prometheus/canary-rules.yml for this app (needs those rules loaded): firing, pending (a rollback rule is breached but its for: has not passed yet), healthy, or no canary traffic at all.",
		pos(18, 24, 6, 6)).
		Thresholds(thresholds("text")).TextMode(common.BigValueTextModeValue).
		Mappings(valueText(map[string]dashboard.ValueMappingResult{
			"-1": mapped("No canary traffic", "text", 0),
			"0":  mapped("Healthy", "green", 1),
			"1":  mapped("Rollback rule breached (pending)", "orange", 2),
			"2":  mapped("Rollback rule firing", "red", 3),
		})).
		WithTarget(instant("A", `max(
    2 * ALERTS{app="$app", alertname=~"Canary.+", alertstate="firing"}
  or
    ALERTS{app="$app", alertname=~"Canary.+", alertstate="pending"}
)
or
  (vector(0) and on () (sum(rate(http_requests_total{`+appSeries+`, version="canary"}[$__rate_interval])) > 0))
or
  vector(-1)`, "health"))

	return dashboard.NewDashboardBuilder("Canary vs Stable").
		Uid("canaryflow-canary-comparison").
		Description("canaryflow: canary vs stable side by side, with the four rollback rules of dashboards/prometheus/canary-rules.yml.").
		Tags([]string{"canaryflow", "canary"}).
		Editable().Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Time("now-30m", "now").Timezone("browser").Refresh("10s").
		Timepicker(dashboard.NewTimePickerBuilder().RefreshIntervals([]string{"10s", "30s", "1m", "5m", "15m"})).
		Annotation(builtInAnnotations()).
		WithVariable(datasourceVariable()).
		WithVariable(dashboard.NewQueryVariableBuilder("app").Label("App").Datasource(promDS()).
			Query(labelValuesQuery("label_values(http_requests_total, app)")).
			Definition("label_values(http_requests_total, app)").
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc)).
		WithVariable(dashboard.NewTextBoxVariableBuilder("proxy_job").Label("Router job").
			Description("Scrape job of a proxy that exports the apps' request metrics again from the routing side (the demo's local router): left out of the per-version panels, used for the router split. Empty when there is none.").
			DefaultValue(dashboard.StringOrMap{String: cog.ToPtr("router")}).
			Current(routerOption(false)).Options([]dashboard.VariableOption{routerOption(true)})).
		WithVariable(dashboard.NewQueryVariableBuilder("ingress").Label("Ingress (ingress-nginx)").Datasource(promDS()).
			Description("ingress-nginx Ingress carrying the app's traffic, for the traffic split (Ingresses whose name contains the app's).").
			Query(labelValuesQuery(`label_values(nginx_ingress_controller_requests{ingress=~".*$app.*"}, ingress)`)).
			Definition(`label_values(nginx_ingress_controller_requests{ingress=~".*$app.*"}, ingress)`).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc)).
		WithPanel(versionSeries(1, "Request rate: canary vs stable",
			"Requests per second each version served, from the apps' own metrics (the router's duplicate series in job $proxy_job are left out).",
			"reqps", pos(0, 0, 12, 8)).
			WithTarget(query("A", `sum by (version) (rate(`+requests+`[$__rate_interval]))`, "{{version}}"))).
		WithPanel(errorRate).
		WithPanel(p95).
		WithPanel(versionSeries(4, "Response time P99",
			"99th percentile latency per version: the tail the p95 rollback rules do not see.",
			"s", pos(12, 8, 12, 8)).
			WithTarget(query("A", `histogram_quantile(0.99, sum by (version, le) (rate(http_request_duration_seconds_bucket{`+bothVersions+`}[$__rate_interval])))`, "{{version}}"))).
		WithPanel(memory).
		WithPanel(cpu).
		WithPanel(canaryPods).
		WithPanel(stablePods).
		WithPanel(split).
		WithPanel(health).
		Build()
}

// labelValuesQuery is a Prometheus variable query as Grafana's editor saves it.
func labelValuesQuery(q string) dashboard.StringOrMap {
	return dashboard.StringOrMap{Map: map[string]any{
		"qryType": 1,
		"query":   q,
		"refId":   "PrometheusVariableQueryEditor-VariableQuery",
	}}
}

// routerOption is the demo router's job as the proxy_job textbox's value.
func routerOption(selected bool) dashboard.VariableOption {
	router := dashboard.StringOrArrayOfString{String: cog.ToPtr("router")}
	return dashboard.VariableOption{Selected: &selected, Text: router, Value: router}
}
