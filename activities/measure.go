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

// Measure takes one sample of canary and stable over the analysis window.
func (a *Activities) Measure(ctx context.Context, spec rollout.Spec) (MeasureResult, error) {
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
