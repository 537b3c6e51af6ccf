package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/canaryflow/canaryflow/rollout"
)

// MeasureResult carries a sample or the kind of failure, never an activity
// error for metric outcomes: the workflow counts them against its limits
// instead of Temporal retrying them.
type MeasureResult struct {
	Sample rollout.Sample `json:"sample"`
	// Verdict is empty when the sample is to be judged, else Inconclusive or Error.
	Verdict rollout.Verdict `json:"verdict,omitempty"`
	Reason  string          `json:"reason,omitempty"`
}

// MeasureInput is what one measurement needs, not the whole spec: it is
// scheduled every interval, and each copy lands in the history. Its JSON
// names are the spec's, so a measurement scheduled with a whole spec by an
// older worker still decodes.
type MeasureInput struct {
	App       string           `json:"app"`
	Namespace string           `json:"namespace"`
	Metrics   rollout.Metrics  `json:"metrics"`
	Analysis  rollout.Analysis `json:"analysis"`
}

// MeasureInputOf takes from spec what a measurement needs.
func MeasureInputOf(spec rollout.Spec) MeasureInput {
	return MeasureInput{App: spec.App, Namespace: spec.Namespace, Metrics: spec.Metrics, Analysis: spec.Analysis}
}

// Measure takes one sample of canary and stable over the analysis window.
func (a *Activities) Measure(ctx context.Context, in MeasureInput) (MeasureResult, error) {
	spec := rollout.Spec{App: in.App, Namespace: in.Namespace, Metrics: in.Metrics, Analysis: in.Analysis}
	m, err := pick("metrics", a.Metrics, spec.Metrics.Kind)
	if err != nil {
		return MeasureResult{}, err
	}
	s, err := m.Measure(ctx, spec, spec.Analysis.Window.D())
	switch {
	case err == nil:
		return MeasureResult{Sample: s}, nil
	case errors.Is(err, rollout.ErrNoData):
		return MeasureResult{Sample: s, Verdict: rollout.Inconclusive, Reason: err.Error()}, nil
	default:
		return MeasureResult{Sample: s, Verdict: rollout.Error, Reason: fmt.Sprintf("measuring: %v", err)}, nil
	}
}
