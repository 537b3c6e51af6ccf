// Package memory is an in-process TrafficRouter for tests: it keeps the
// weight per app and namespace and records every change.
package memory

import (
	"context"
	"sync"

	"github.com/canaryflow/canaryflow/rollout"
)

// Router holds canary weights.
type Router struct {
	mu      sync.Mutex
	weights map[string]int
	history []int
	// Refuse, when set, may reject a weight (return an error wrapping rollout.ErrPermanent to mimic a refusal).
	Refuse func(weight int) error
}

// New returns a Router with every weight at 0.
func New() *Router { return &Router{weights: map[string]int{}} }

// SetWeight records the weight unless Refuse rejects it.
func (r *Router) SetWeight(_ context.Context, spec rollout.Spec, weight int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Refuse != nil {
		if err := r.Refuse(weight); err != nil {
			return err
		}
	}
	r.weights[spec.Namespace+"/"+spec.App] = weight
	r.history = append(r.history, weight)
	return nil
}

// Weight returns the current weight.
func (r *Router) Weight(_ context.Context, spec rollout.Spec) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.weights[spec.Namespace+"/"+spec.App], nil
}

// History returns every weight set, in order.
func (r *Router) History() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.history...)
}
