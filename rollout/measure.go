package rollout

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Verdict is the outcome of one measurement, as analysis must tell them apart.
type Verdict string

// Verdicts. Inconclusive means too little data to judge, and is never a pass.
const (
	Successful   Verdict = "Successful"
	Failed       Verdict = "Failed"
	Inconclusive Verdict = "Inconclusive"
	Error        Verdict = "Error"
)

// VersionFigures are one version's figures over the analysis window.
// Latencies are in seconds; NaN means the source had no data for that figure.
type VersionFigures struct {
	RequestRate Value `json:"requestRate"`
	ErrorRate   Value `json:"errorRate"`
	P95         Value `json:"p95"`
	P99         Value `json:"p99"`
}

// NoData is a VersionFigures with every figure missing.
func NoData() VersionFigures {
	n := Value(math.NaN())
	return VersionFigures{RequestRate: n, ErrorRate: n, P95: n, P99: n}
}

// Value is a figure that may be missing (NaN). JSON cannot carry NaN, so a
// missing figure travels as null; without this a status query would fail.
type Value float64

// MarshalJSON writes NaN and infinities as null.
func (v Value) MarshalJSON() ([]byte, error) {
	if bad(float64(v)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(v))
}

// UnmarshalJSON reads null as NaN.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = Value(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*v = Value(f)
	return nil
}

// Missing reports whether the source had no data for this figure.
func (v Value) Missing() bool { return bad(float64(v)) }

// Sample is what a metrics source returns for one measurement.
type Sample struct {
	Canary VersionFigures `json:"canary"`
	Stable VersionFigures `json:"stable"`
	// Queries are the resolved queries, keyed like "canary.errorRate", kept so a
	// verdict can be checked by hand against the metrics backend.
	Queries map[string]string `json:"queries,omitempty"`
	// Window are the counts over the analysis window; Cumulative since the
	// current weight began (when the source was asked for them). Either may
	// be nil: a source that gives only rates.
	Window     *Counts `json:"window,omitempty"`
	Cumulative *Counts `json:"cumulative,omitempty"`
	// Custom are the custom metrics' resolved queries and results
	// (analysis.metrics), in the spec's order.
	Custom []CustomResult `json:"custom,omitempty"`
}

// Measurement is one recorded analysis result.
type Measurement struct {
	At      time.Time `json:"at"`
	Step    int       `json:"step"`
	Weight  int       `json:"weight"`
	Sample  Sample    `json:"sample"`
	Verdict Verdict   `json:"verdict"`
	// Reasons explain a non-successful verdict, one rule or error per line.
	Reasons []string `json:"reasons,omitempty"`
	// Rules are the statistical judgement of each rule, when the sample
	// carried counts.
	Rules []RuleResult `json:"rules,omitempty"`
	// CustomRules are the custom metrics' results when the measurement was
	// judged by thresholds (EvaluateAnalysis). Sequential judgement lists
	// them among Rules instead, where their limits are counted; kept apart
	// here so that Rules still says "judged by the sequential judge".
	CustomRules []RuleResult `json:"customRules,omitempty"`
}

// Evaluate applies the thresholds to a sample. Rules comparing against stable
// are applied only when stable itself has enough traffic to be a baseline.
func Evaluate(t Thresholds, s Sample) (Verdict, []string) {
	minRate := 0.0
	if t.MinRequestRate != nil {
		minRate = *t.MinRequestRate
	}
	c, st := s.Canary.floats(), s.Stable.floats()
	if bad(c.RequestRate) || c.RequestRate < minRate || c.RequestRate == 0 {
		return Inconclusive, []string{fmt.Sprintf("too little canary traffic to judge: %s req/s, need at least %g", num(c.RequestRate), minRate)}
	}
	var reasons []string
	if t.MaxErrorRate != nil && !bad(c.ErrorRate) && c.ErrorRate > *t.MaxErrorRate {
		reasons = append(reasons, fmt.Sprintf("canary error rate %.2f%% > %.2f%%", 100*c.ErrorRate, 100**t.MaxErrorRate))
	}
	if !bad(c.P95) && c.P95 > t.MaxP95.D().Seconds() {
		reasons = append(reasons, fmt.Sprintf("canary p95 %s > %s", secs(c.P95), t.MaxP95.D()))
	}
	baseline := !bad(st.RequestRate) && st.RequestRate >= minRate && st.RequestRate > 0
	if baseline && t.MaxErrorRateIncrease != nil && !bad(c.ErrorRate) && !bad(st.ErrorRate) &&
		c.ErrorRate > st.ErrorRate+*t.MaxErrorRateIncrease {
		reasons = append(reasons, fmt.Sprintf("canary error rate %.2f%% > stable %.2f%% + %.2f points",
			100*c.ErrorRate, 100*st.ErrorRate, 100**t.MaxErrorRateIncrease))
	}
	if baseline && t.MaxLatencyRatio > 0 && !bad(c.P95) && !bad(st.P95) && st.P95 > 0 &&
		c.P95 > t.MaxLatencyRatio*st.P95 {
		reasons = append(reasons, fmt.Sprintf("canary p95 %s > %g × stable p95 %s", secs(c.P95), t.MaxLatencyRatio, secs(st.P95)))
	}
	if len(reasons) > 0 {
		return Failed, reasons
	}
	if bad(c.ErrorRate) || bad(c.P95) {
		return Inconclusive, []string{"canary error rate or p95 has no data"}
	}
	return Successful, nil
}

type floats struct{ RequestRate, ErrorRate, P95, P99 float64 }

func (f VersionFigures) floats() floats {
	return floats{float64(f.RequestRate), float64(f.ErrorRate), float64(f.P95), float64(f.P99)}
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

func num(v float64) string {
	if bad(v) {
		return "no data"
	}
	return fmt.Sprintf("%.3g", v)
}

func secs(v float64) string {
	return time.Duration(v * float64(time.Second)).Round(time.Millisecond).String()
}
