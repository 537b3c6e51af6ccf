// Package rollout is canaryflow's domain: the rollout spec a user writes,
// its defaults and validation, the measurements and verdicts of analysis, and
// the status a running rollout reports. It is pure Go with no I/O so that the
// starter, the workflow and the activities all agree on one definition.
package rollout

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// FormatV1 is the only spec format this version understands. The field exists
// so that a later format can be told apart instead of silently misread.
const FormatV1 = "canaryflow/v1"

// Spec is one rollout as the user writes it in YAML.
type Spec struct {
	Version   string   `json:"version"`
	App       string   `json:"app"`
	Namespace string   `json:"namespace"`
	Stable    Release  `json:"stable"`
	Canary    Release  `json:"canary"`
	Deploy    Deploy   `json:"deploy"`
	Traffic   Traffic  `json:"traffic"`
	Metrics   Metrics  `json:"metrics"`
	Smoke     Smoke    `json:"smoke"`
	Steps     []Step   `json:"steps,omitempty"`
	Analysis  Analysis `json:"analysis"`
	Notify    Notify   `json:"notify"`
	// KubeContext picks a context of the worker's kubeconfig for the helm,
	// nginx and gatewayapi kinds; empty means the current context (or the
	// worker's in-cluster config).
	KubeContext string `json:"kubeContext,omitempty"`
}

// Release names one version of the application and the image that runs it.
type Release struct {
	Version string `json:"version"`
	Image   string `json:"image,omitempty"`
}

// Deploy chooses how stable and canary are deployed.
type Deploy struct {
	// Kind is local, helm or memory.
	Kind string `json:"kind"`
	// ReadyTimeout bounds how long a deployment may take to become ready.
	ReadyTimeout Duration     `json:"readyTimeout,omitempty"`
	Local        *LocalDeploy `json:"local,omitempty"`
	Helm         *HelmDeploy  `json:"helm,omitempty"`
}

// LocalDeploy runs each version as a process on this machine (the demo).
type LocalDeploy struct {
	StableAddr string   `json:"stableAddr"`
	CanaryAddr string   `json:"canaryAddr"`
	Args       []string `json:"args,omitempty"`
}

// HelmDeploy installs the app chart with a canary release enabled.
type HelmDeploy struct {
	Chart   string `json:"chart"`
	Release string `json:"release,omitempty"`
	// Values are the release's own chart values (ingress host, gateway,
	// resources, ...). canaryflow sets canary.*, the images and router on
	// top of them; the chart's values.schema.json judges the result.
	Values map[string]any `json:"values,omitempty"`
}

// Traffic chooses how requests are split between stable and canary.
type Traffic struct {
	// Kind is local, nginx, gatewayapi or memory.
	Kind string `json:"kind"`
	// Header forces routing: "<Header>: always" goes to canary, "never" to stable.
	Header string `json:"header,omitempty"`
	// Cookie forces routing like Header, for browsers.
	Cookie     string             `json:"cookie,omitempty"`
	Local      *LocalTraffic      `json:"local,omitempty"`
	Nginx      *NginxTraffic      `json:"nginx,omitempty"`
	GatewayAPI *GatewayAPITraffic `json:"gatewayapi,omitempty"`
}

// LocalTraffic points at the demo router's admin endpoint.
type LocalTraffic struct {
	AdminURL string `json:"adminURL"`
}

// Metrics chooses where canary and stable are measured.
type Metrics struct {
	// Kind is prometheus or memory.
	Kind       string             `json:"kind"`
	Prometheus *PrometheusMetrics `json:"prometheus,omitempty"`
}

// PrometheusMetrics says which Prometheus to ask and which series are the app's.
type PrometheusMetrics struct {
	Address string `json:"address,omitempty"`
	// Metric is the request-duration histogram's base name.
	Metric string `json:"metric,omitempty"`
	// Labels are extra equality matchers added to every query. The app's
	// own label, app="<app>", is added unless Labels names app (app: ""
	// switches it off, for a Prometheus that does not label apps).
	Labels map[string]string `json:"labels,omitempty"`
}

// Smoke describes the checks run against the canary before any traffic moves.
type Smoke struct {
	Skip bool `json:"skip,omitempty"`
	// BaseURL reaches both versions; the canary is chosen with the traffic header.
	BaseURL string `json:"baseURL,omitempty"`
	// CanaryURL and StableURL, when set, reach each version directly instead.
	CanaryURL       string   `json:"canaryURL,omitempty"`
	StableURL       string   `json:"stableURL,omitempty"`
	HealthPath      string   `json:"healthPath,omitempty"`
	Endpoints       []string `json:"endpoints,omitempty"`
	Requests        int      `json:"requests,omitempty"`
	MaxErrorRate    *float64 `json:"maxErrorRate,omitempty"`
	MaxLatencyRatio float64  `json:"maxLatencyRatio,omitempty"`
	MaxMemoryMB     float64  `json:"maxMemoryMB,omitempty"`
}

// Step is one entry of the plan; exactly one of its fields is set.
type Step struct {
	SetWeight *int          `json:"setWeight,omitempty"`
	Pause     *Pause        `json:"pause,omitempty"`
	Analysis  *AnalysisStep `json:"analysis,omitempty"`
}

// Pause holds the rollout for a Duration, or until approved when Duration is zero.
type Pause struct {
	Duration Duration `json:"duration,omitempty"`
	// Timeout bounds an approval wait; OnTimeout says what happens then.
	Timeout   Duration `json:"timeout,omitempty"`
	OnTimeout string   `json:"onTimeout,omitempty"`
}

// What an approval wait does when its timeout passes.
const (
	OnTimeoutAbort   = "abort"
	OnTimeoutProceed = "proceed"
)

// AnalysisStep is an inline gate: Measurements consecutive successful
// measurements are needed before the next step.
type AnalysisStep struct {
	Measurements int `json:"measurements,omitempty"`
}

// Analysis configures background and inline measurement.
type Analysis struct {
	Interval   Duration   `json:"interval,omitempty"`
	Window     Duration   `json:"window,omitempty"`
	Thresholds Thresholds `json:"thresholds"`
	Limits     Limits     `json:"limits"`
	Judging    Judging    `json:"judging"`
	// Metrics are custom PromQL metrics judged next to the built-in rules.
	Metrics []CustomMetric `json:"metrics,omitempty"`
}

// Thresholds are the rollback rules; a canary crossing any of them fails.
// Rates are fractions (0.05 is 5 %), not percentages.
type Thresholds struct {
	// MaxErrorRate is the canary's highest 5xx share (default 0.05).
	MaxErrorRate *float64 `json:"maxErrorRate,omitempty"`
	// MaxP95 is the canary's highest p95 latency (default 2s).
	MaxP95 Duration `json:"maxP95,omitempty"`
	// MaxErrorRateIncrease is how far the canary's error rate may exceed
	// stable's (default 0.03, i.e. 3 points).
	MaxErrorRateIncrease *float64 `json:"maxErrorRateIncrease,omitempty"`
	// MaxLatencyRatio is the highest canary p95 / stable p95 (default 1.5).
	MaxLatencyRatio float64 `json:"maxLatencyRatio,omitempty"`
	// MinRequestRate (requests per second) below which a version's figures
	// are too thin to judge and the measurement is Inconclusive.
	MinRequestRate *float64 `json:"minRequestRate,omitempty"`
}

// Limits say how many non-successful measurements are tolerated: more than
// MaxFailures Failed in all (default 0), more than MaxInconclusive
// Inconclusive without a Successful one between (default 3), or more than
// MaxConsecutiveErrors Errors in a row (default 4) rolls back.
type Limits struct {
	MaxFailures          *int `json:"maxFailures,omitempty"`
	MaxInconclusive      *int `json:"maxInconclusive,omitempty"`
	MaxConsecutiveErrors *int `json:"maxConsecutiveErrors,omitempty"`
}

// Notify says where rollout events are announced.
type Notify struct {
	// Kind is log or slack.
	Kind    string `json:"kind"`
	Channel string `json:"channel,omitempty"`
}

// Duration is a time.Duration written as "15m" in YAML and JSON.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts "90s", "15m", "1h30m". Errors are
// *json.UnmarshalTypeError so the decoder adds the field's path to them.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: string(b) + ` (a duration is a string such as "30s" or "15m")`, Type: reflect.TypeFor[Duration]()}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: strconv.Quote(s) + ` (use a number with a unit such as "30s" or "15m")`, Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}

// Describe renders a step for logs and status, like "setWeight 25".
func (s Step) Describe() string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight %d", *s.SetWeight)
	case s.Pause != nil && s.Pause.Duration > 0:
		return fmt.Sprintf("pause %s", s.Pause.Duration.D())
	case s.Pause != nil && s.Pause.Timeout > 0:
		return fmt.Sprintf("pause until approved (timeout %s, then %s)", s.Pause.Timeout.D(), s.Pause.OnTimeout)
	case s.Pause != nil:
		return "pause until approved"
	case s.Analysis != nil:
		return fmt.Sprintf("analysis (%d measurements)", s.Analysis.Measurements)
	}
	return "empty step"
}

// Weight helps write steps in Go.
func Weight(w int) Step { return Step{SetWeight: &w} }

// Hold helps write a timed pause in Go.
func Hold(d time.Duration) Step { return Step{Pause: &Pause{Duration: Duration(d)}} }

// ApprovalGate helps write an approval wait in Go; timeout 0 waits forever.
func ApprovalGate(timeout time.Duration, onTimeout string) Step {
	return Step{Pause: &Pause{Timeout: Duration(timeout), OnTimeout: onTimeout}}
}

// Gate helps write an inline analysis step in Go.
func Gate(n int) Step { return Step{Analysis: &AnalysisStep{Measurements: n}} }
