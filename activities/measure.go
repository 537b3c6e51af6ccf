package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	// Since, when set, asks for counts since that moment (the current
	// weight's start) in Sample.Cumulative, for sequential judgement.
	Since time.Time `json:"since,omitzero"`
}

// CountsSource is a MetricsSource that can also count requests, errors and
// latency buckets since a moment; sequential judgement needs it.
type CountsSource interface {
	MeasureCounts(ctx context.Context, spec rollout.Spec, since time.Time) (*rollout.Counts, error)
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
	if err == nil && !in.Since.IsZero() && s.Cumulative == nil {
		if cs, ok := m.(CountsSource); ok {
			c, cerr := cs.MeasureCounts(ctx, spec, in.Since)
			if errors.Is(cerr, rollout.ErrNoData) && c != nil {
				// Right after a weight change there may be too few scrapes to
				// count: the judge calls that Inconclusive, not an error.
				cerr = nil
			}
			if errors.Is(cerr, rollout.ErrNoData) {
				return MeasureResult{Sample: s, Verdict: rollout.Inconclusive, Reason: fmt.Sprintf("counting since the weight began: %v", cerr)}, nil
			}
			if cerr != nil {
				return MeasureResult{Sample: s, Verdict: rollout.Error, Reason: fmt.Sprintf("counting since the weight began: %v", cerr)}, nil
			}
			s.Cumulative = c
		}
	}
	switch {
	case err == nil:
		return MeasureResult{Sample: s}, nil
	case errors.Is(err, rollout.ErrNoData):
		return MeasureResult{Sample: s, Verdict: rollout.Inconclusive, Reason: err.Error()}, nil
	default:
		return MeasureResult{Sample: s, Verdict: rollout.Error, Reason: fmt.Sprintf("measuring: %v", err)}, nil
	}
}
