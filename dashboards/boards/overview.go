package boards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
)

// workerSel picks the worker's series: $job is the scrape job of the
// canaryflow workers (every worker reports the rollouts it runs).
const workerSel = `job=~"$job"`

// RolloutsOverview is "canaryflow rollouts" (uid canaryflow-rollouts-overview):
// every rollout the workers run, from the worker's /metrics — canaryflow_*
// and the Temporal SDK's own metrics (package telemetry).
func RolloutsOverview() (dashboard.Dashboard, error) {
	weightNow := stat.NewPanelBuilder().Id(1).Title("Canary weight now").
		Description("Canary traffic weight of each rollout, as the worker running it last set it (canaryflow_rollout_weight_percent); 0 once promoted or rolled back. A rollout that moved to another worker still shows on the one it left, at its last weight, until that worker restarts: max takes the higher.").
		Datasource(promDS()).GridPos(pos(0, 0, 12, 6)).
		Unit("percent").Decimals(0).Min(0).Max(100).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Thresholds(thresholds("text", 1, "orange")).
		ReduceOptions(lastValue()).Orientation(common.VizOrientationAuto).TextMode(common.BigValueTextModeValueAndName).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeArea).
		JustifyMode(common.BigValueJustifyModeCenter).WideLayout(true).ShowPercentChange(false).
		WithTarget(instant("A", `max by (rollout_namespace, rollout_app) (canaryflow_rollout_weight_percent{`+workerSel+`})`, "{{rollout_namespace}}/{{rollout_app}}"))

	ended := stat.NewPanelBuilder().Id(2).Title("Rollouts ended").
		Description("Rollouts that ended in the dashboard's time range, by final phase (canaryflow_rollouts_ended_total): Promoted, RolledBack, Rejected, RollbackFailed (once a person resolved it).").
		Datasource(promDS()).GridPos(pos(12, 0, 6, 6)).
		Unit("none").Decimals(0).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Thresholds(thresholds("blue")).
		ReduceOptions(lastValue()).Orientation(common.VizOrientationAuto).TextMode(common.BigValueTextModeValueAndName).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeNone).
		JustifyMode(common.BigValueJustifyModeCenter).WideLayout(true).ShowPercentChange(false).
		WithTarget(instant("A", `sum by (phase) (increase(canaryflow_rollouts_ended_total{`+workerSel+`}[$__range]))`, "{{phase}}"))

	rollbacks := stat.NewPanelBuilder().Id(3).Title("Rollbacks by cause").
		Description("Rollbacks begun in the dashboard's time range, by cause (canaryflow_rollbacks_total): analysis (a measurement limit), smoke, abort (a person), approval_timeout, cancelled, error (an activity gave up). A retry-rollback is not counted again.").
		Datasource(promDS()).GridPos(pos(18, 0, 6, 6)).
		Unit("none").Decimals(0).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Thresholds(thresholds("green", 1, "red")).
		ReduceOptions(lastValue()).Orientation(common.VizOrientationAuto).TextMode(common.BigValueTextModeValueAndName).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeNone).
		JustifyMode(common.BigValueJustifyModeCenter).WideLayout(true).ShowPercentChange(false).
		WithTarget(instant("A", `sum by (cause) (increase(canaryflow_rollbacks_total{`+workerSel+`}[$__range]))`, "{{cause}}"))

	weights := series(4, "Canary weight per rollout",
		"Canary traffic weight over time, one line per rollout (namespace/app).",
		"percent", pos(0, 6, 12, 8)).
		Max(100).
		WithTarget(query("A", `max by (rollout_namespace, rollout_app) (canaryflow_rollout_weight_percent{`+workerSel+`})`, "{{rollout_namespace}}/{{rollout_app}}"))

	phases := series(5, "Rollouts entering each phase",
		"Rollouts entering each phase per interval (canaryflow_rollout_phase_entered_total): a rising RollingBack or AwaitingApproval needs a look. A continue-as-new enters no phase.",
		"none", pos(12, 6, 12, 8)).
		DrawStyle(common.GraphDrawStyleBars).
		WithTarget(query("A", `sum by (phase) (increase(canaryflow_rollout_phase_entered_total{`+workerSel+`}[$__rate_interval]))`, "{{phase}}"))

	verdicts := series(6, "Measurements by verdict",
		"Canary measurements judged per minute, by verdict (canaryflow_measurements_total). Failed counts toward a rollback; Inconclusive is too little traffic (never a pass); Error is a metrics source that did not answer.",
		"none", pos(0, 14, 12, 8)).
		OverrideByName("Successful", []dashboard.DynamicConfigValue{fixedColor("green")}).
		OverrideByName("Failed", []dashboard.DynamicConfigValue{fixedColor("red")}).
		OverrideByName("Inconclusive", []dashboard.DynamicConfigValue{fixedColor("yellow")}).
		OverrideByName("Error", []dashboard.DynamicConfigValue{fixedColor("purple")}).
		WithTarget(query("A", `60 * sum by (verdict) (rate(canaryflow_measurements_total{`+workerSel+`}[$__rate_interval]))`, "{{verdict}}"))

	steps := series(7, "Step duration by kind (mean)",
		"Mean time a plan step took, by kind (canaryflow_step_duration_seconds): setWeight (the router's change), pause (a timed hold), approval (waiting for a person), analysis (an inline gate); over the dashboard's range.",
		"s", pos(12, 14, 12, 8)).
		WithTarget(query("A", `sum by (kind) (increase(canaryflow_step_duration_seconds_sum{`+workerSel+`}[$__range]))
/ sum by (kind) (increase(canaryflow_step_duration_seconds_count{`+workerSel+`}[$__range]))`, "{{kind}}"))

	durations := series(8, "Rollout duration (p50, p90) by outcome",
		"Time from a rollout's start to its end, across continue-as-new (canaryflow_rollout_duration_seconds), by final phase, over the dashboard's range.",
		"s", pos(0, 22, 12, 8)).
		WithTarget(query("A", `histogram_quantile(0.5, sum by (phase, le) (increase(canaryflow_rollout_duration_seconds_bucket{`+workerSel+`}[$__range])))`, "p50 {{phase}}")).
		WithTarget(query("B", `histogram_quantile(0.9, sum by (phase, le) (increase(canaryflow_rollout_duration_seconds_bucket{`+workerSel+`}[$__range])))`, "p90 {{phase}}"))

	activities := series(9, "Activity latency p95 (Temporal SDK)",
		"95th percentile execution time of each activity (temporal_activity_execution_latency_seconds): a slow SetWeight or Deploy shows here before a rollout stalls.",
		"s", pos(12, 22, 12, 8)).
		WithTarget(query("A", `histogram_quantile(0.95, sum by (activity_type, le) (rate(temporal_activity_execution_latency_seconds_bucket{`+workerSel+`}[$__rate_interval])))`, "{{activity_type}}"))

	backlog := series(10, "Task schedule-to-start p95 (Temporal SDK)",
		"How long workflow and activity tasks wait for a worker (temporal_workflow_task_schedule_to_start_latency_seconds, temporal_activity_schedule_to_start_latency_seconds): growing waits mean too few workers or slots.",
		"s", pos(0, 30, 12, 8)).
		WithTarget(query("A", `histogram_quantile(0.95, sum by (le) (rate(temporal_workflow_task_schedule_to_start_latency_seconds_bucket{`+workerSel+`}[$__rate_interval])))`, "workflow tasks")).
		WithTarget(query("B", `histogram_quantile(0.95, sum by (le) (rate(temporal_activity_schedule_to_start_latency_seconds_bucket{`+workerSel+`}[$__rate_interval])))`, "activity tasks"))

	outcomes := series(11, "Rollout workflows closed (Temporal SDK)",
		"CanaryRollout workflow runs that closed per interval, as Temporal sees them (temporal_workflow_*_total): completed is a promotion, failed is a rollback or a rejection (they end with an error on purpose), continued-as-new is a long rollout moving to a fresh history.",
		"none", pos(12, 30, 12, 8)).
		DrawStyle(common.GraphDrawStyleBars).
		WithTarget(query("A", `sum(increase(temporal_workflow_completed_total{`+workerSel+`, workflow_type="CanaryRollout"}[$__rate_interval]))`, "completed")).
		WithTarget(query("B", `sum(increase(temporal_workflow_failed_total{`+workerSel+`, workflow_type="CanaryRollout"}[$__rate_interval]))`, "failed")).
		WithTarget(query("C", `sum(increase(temporal_workflow_continue_as_new_total{`+workerSel+`, workflow_type="CanaryRollout"}[$__rate_interval]))`, "continued as new"))

	slots := series(12, "Free task slots (Temporal SDK)",
		"Task slots each kind of worker has free (temporal_worker_task_slots_available): at 0 new tasks wait.",
		"none", pos(0, 38, 12, 8)).
		WithTarget(query("A", `sum by (worker_type) (temporal_worker_task_slots_available{`+workerSel+`})`, "{{worker_type}}"))

	return dashboard.NewDashboardBuilder("canaryflow rollouts").
		Uid("canaryflow-rollouts-overview").
		Description("canaryflow: every rollout the workers run — weights, phases, verdicts, rollbacks, durations — and the Temporal SDK's view of the workers, from the worker's /metrics.").
		Tags([]string{"canaryflow", "temporal"}).
		Editable().Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Time("now-6h", "now").Timezone("browser").Refresh("30s").
		Timepicker(dashboard.NewTimePickerBuilder().RefreshIntervals([]string{"10s", "30s", "1m", "5m", "15m"})).
		Annotation(builtInAnnotations()).
		WithVariable(datasourceVariable()).
		WithVariable(dashboard.NewQueryVariableBuilder("job").Label("Worker job").Datasource(promDS()).
			Description("Scrape job(s) of the canaryflow workers.").
			Query(labelValuesQuery("label_values(canaryflow_rollout_phase_entered_total, job)")).
			Definition("label_values(canaryflow_rollout_phase_entered_total, job)").
			Multi(true).IncludeAll(true).AllValue(".*").
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc)).
		WithPanel(weightNow).
		WithPanel(ended).
		WithPanel(rollbacks).
		WithPanel(weights).
		WithPanel(phases).
		WithPanel(verdicts).
		WithPanel(steps).
		WithPanel(durations).
		WithPanel(activities).
		WithPanel(backlog).
		WithPanel(outcomes).
		WithPanel(slots).
		Build()
}
