// Package telemetry defines canaryflow's own metrics (canaryflow_*) and the
// Prometheus export of everything the worker measures.
//
// Every instrument is emitted through the Temporal SDK's metrics handler
// (client.MetricsHandler), never through a Prometheus registry directly, so
// the same code runs inside the workflow and in activities: inside the
// workflow, workflow.GetMetricsHandler suppresses emission while a history is
// replayed, so a rollout replayed after a worker restart or a cache eviction
// does not count its phases, measurements and rollbacks a second time. What
// the workflow emits is not history: adding or removing a metric never
// breaks replay.
//
// The handler the worker configures (NewPrometheusHandler) exports into a
// Prometheus registry, naming series the Prometheus way: counters get
// _total, timers are histograms in seconds with _seconds.
package telemetry

import "slices"

// Kind is a metric's Prometheus type.
type Kind string

// The Prometheus types canaryflow_* metrics have.
const (
	Counter   Kind = "counter"
	Gauge     Kind = "gauge"
	Histogram Kind = "histogram"
)

// Metric describes one canaryflow_* metric as Prometheus exposes it: what the
// README lists and what the dashboards may query.
type Metric struct {
	// Name is the exposed name (with _total or _seconds).
	Name string
	// Instrument is the name given to the SDK's metrics handler.
	Instrument string
	Kind       Kind
	// Labels are canaryflow's own. Every series also carries the SDK's tags
	// (client_name, namespace, task_queue, workflow_type, activity_type,
	// worker_type; "none" where one does not apply), all bounded.
	Labels []string
	Help   string
	// Buckets are a histogram's upper bounds, in seconds.
	Buckets []float64
}

// Label names. Per-rollout labels exist only on the weight gauge: a series per
// (namespace, app) is bounded by the apps a team rolls out, while a rollout
// label on the counters would grow with every rollout ever run.
const (
	LabelPhase            = "phase"
	LabelVerdict          = "verdict"
	LabelCause            = "cause"
	LabelKind             = "kind"
	LabelRolloutNamespace = "rollout_namespace"
	LabelRolloutApp       = "rollout_app"
)

// Instrument names, as given to client.MetricsHandler.
const (
	instPhaseEntered   = "canaryflow_rollout_phase_entered"
	instEnded          = "canaryflow_rollouts_ended"
	instRollbacks      = "canaryflow_rollbacks"
	instMeasurements   = "canaryflow_measurements"
	instWeight         = "canaryflow_rollout_weight_percent"
	instStepDuration   = "canaryflow_step_duration"
	instRolloutLasting = "canaryflow_rollout_duration"
)

// Metrics lists every canaryflow_* metric.
var Metrics = []Metric{
	{
		Name: instPhaseEntered + "_total", Instrument: instPhaseEntered, Kind: Counter, Labels: []string{LabelPhase},
		Help: "Rollouts that entered each phase (Deploying, SmokeTesting, Progressing, AwaitingApproval, Paused, Promoting, Promoted, RollingBack, RolledBack, RollbackFailed, Rejected); a continue-as-new enters nothing.",
	},
	{
		Name: instEnded + "_total", Instrument: instEnded, Kind: Counter, Labels: []string{LabelPhase},
		Help: "Rollouts that ended, by final phase: Promoted, RolledBack, Rejected, or RollbackFailed once a person resolved it.",
	},
	{
		Name: instRollbacks + "_total", Instrument: instRollbacks, Kind: Counter, Labels: []string{LabelCause},
		Help: "Rollbacks begun, by cause: analysis, smoke, abort, approval_timeout, cancelled, error. A retry-rollback is not a new rollback.",
	},
	{
		Name: instMeasurements + "_total", Instrument: instMeasurements, Kind: Counter, Labels: []string{LabelVerdict},
		Help: "Canary measurements judged, by verdict: Successful, Failed, Inconclusive, Error.",
	},
	{
		Name: instWeight, Instrument: instWeight, Kind: Gauge, Labels: []string{LabelRolloutNamespace, LabelRolloutApp},
		Help: "Canary traffic weight (0-100) this worker last set for a rollout; 0 once the rollout is promoted or rolled back.",
	},
	{
		Name: instStepDuration + "_seconds", Instrument: instStepDuration, Kind: Histogram, Labels: []string{LabelKind},
		Help:    "Time a plan step took, from its start to the next step or the end of the steps, by kind: setWeight, pause, approval, analysis.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400},
	},
	{
		Name: instRolloutLasting + "_seconds", Instrument: instRolloutLasting, Kind: Histogram, Labels: []string{LabelPhase},
		Help:    "Time from a rollout's first event to its end, across continue-as-new, by final phase.",
		Buckets: []float64{10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200},
	},
}

// sdkBuckets are the upper bounds, in seconds, of the Temporal SDK's own
// latency histograms: from a fast RPC to a long poll.
var sdkBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// SDKMetrics are the Temporal SDK metrics the dashboards read, as the
// worker's /metrics exposes them through NewPrometheusHandler. The SDK
// defines many more (go.temporal.io/sdk/internal/common/metrics); these are
// the ones whose names a dashboard depends on; their labels are the SDK's
// tags (see Metric.Labels) plus, for some, operation or failure_reason.
var SDKMetrics = []Metric{
	{Name: "temporal_workflow_completed_total", Kind: Counter},
	{Name: "temporal_workflow_failed_total", Kind: Counter},
	{Name: "temporal_workflow_continue_as_new_total", Kind: Counter},
	{Name: "temporal_workflow_task_execution_failed_total", Kind: Counter},
	{Name: "temporal_activity_execution_failed_total", Kind: Counter},
	{Name: "temporal_activity_execution_latency_seconds", Kind: Histogram},
	{Name: "temporal_activity_schedule_to_start_latency_seconds", Kind: Histogram},
	{Name: "temporal_workflow_task_schedule_to_start_latency_seconds", Kind: Histogram},
	{Name: "temporal_request_failure_total", Kind: Counter},
	{Name: "temporal_worker_task_slots_available", Kind: Gauge},
}

// lookup returns the Metric of an instrument name, if it is canaryflow's.
func lookup(instrument string) (Metric, bool) {
	i := slices.IndexFunc(Metrics, func(m Metric) bool { return m.Instrument == instrument })
	if i < 0 {
		return Metric{}, false
	}
	return Metrics[i], true
}

// SeriesNames returns every series name a metric exposes: a histogram's
// _bucket, _sum and _count, or the metric's own name.
func (m Metric) SeriesNames() []string {
	if m.Kind == Histogram {
		return []string{m.Name + "_bucket", m.Name + "_sum", m.Name + "_count"}
	}
	return []string{m.Name}
}
