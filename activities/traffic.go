package activities

import (
	"context"
	"fmt"

	"github.com/canaryflow/canaryflow/rollout"
)

// WeightInput is the share of traffic (0–100) the canary should receive.
type WeightInput struct {
	Spec   rollout.Spec `json:"spec"`
	Weight int          `json:"weight"`
}

// SetWeight moves traffic and reads the weight back: a router that accepted
// the call but serves another weight is an error, not a success.
func (a *Activities) SetWeight(ctx context.Context, in WeightInput) error {
	r, err := pick("traffic", a.Routers, in.Spec.Traffic.Kind)
	if err != nil {
		return err
	}
	if err := r.SetWeight(ctx, in.Spec, in.Weight); err != nil {
		return classify(fmt.Sprintf("setting canary weight to %d", in.Weight), err)
	}
	got, err := r.Weight(ctx, in.Spec)
	if err != nil {
		return classify(fmt.Sprintf("reading canary weight back after setting %d", in.Weight), err)
	}
	if got != in.Weight {
		return fmt.Errorf("setting canary weight to %d: router reports %d", in.Weight, got)
	}
	return nil
}
