// Package activities holds canaryflow's Temporal activities: short methods on
// one Activities struct, each doing one side effect through a provider. The
// provider interfaces are defined here, where they are used; implementations
// live in sub-packages by kind (deploy/local, traffic/local,
// metrics/prometheus, notify/slack, ...) and are chosen by the spec's kind.
package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/canaryflow/canaryflow/rollout"
)

// Deployer installs, checks and removes one role's deployment.
// Every method must be safe to call twice.
type Deployer interface {
	// Deploy makes role run rel (installing or upgrading), without waiting.
	Deploy(ctx context.Context, spec rollout.Spec, role rollout.Role, rel rollout.Release) error
	// Ready reports whether role runs its desired release and serves; detail says what is missing.
	Ready(ctx context.Context, spec rollout.Spec, role rollout.Role) (ready bool, detail string, err error)
	// Remove deletes role's deployment; removing what is absent succeeds.
	Remove(ctx context.Context, spec rollout.Spec, role rollout.Role) error
}

// TrafficRouter sets and reads the share of traffic the canary receives.
type TrafficRouter interface {
	SetWeight(ctx context.Context, spec rollout.Spec, weight int) error
	Weight(ctx context.Context, spec rollout.Spec) (int, error)
}

// MetricsSource measures canary against stable. Errors wrap rollout.ErrNoData,
// rollout.ErrQueryFailed or rollout.ErrUnknownMetric so analysis can tell them apart.
type MetricsSource interface {
	Measure(ctx context.Context, spec rollout.Spec, window time.Duration) (rollout.Sample, error)
	// Check verifies the source answers and knows the spec's metric, before anything is deployed.
	Check(ctx context.Context, spec rollout.Spec) error
}

// Notifier announces rollout events to people.
type Notifier interface {
	// Notify returns the handle of the rollout's thread (n.Thread, or the
	// one this message started), which the workflow passes back in the
	// next Notification; "" for a notifier without threads.
	Notify(ctx context.Context, n rollout.Notification) (thread string, err error)
}

// Activities is registered with the worker; its fields are the providers it
// may use, keyed by the kind a spec names.
type Activities struct {
	Deployers map[string]Deployer
	Routers   map[string]TrafficRouter
	Metrics   map[string]MetricsSource
	Notifiers map[string]Notifier
	// IncidentDir is where rollback incident reports are written.
	IncidentDir string
	// HTTP is the client smoke tests use; nil means a client with a 10 s timeout.
	HTTP *http.Client
	// PollInterval is how often readiness is checked; zero means 1 s.
	PollInterval time.Duration
	// HostQueue is the task queue only this worker polls, for rollouts whose
	// deploy kind is host-bound; "" when the worker has none.
	HostQueue string
}

// Error types of the non-retryable failures activities return, so a caller
// reading a failure (the UI, a test) can tell a missing provider from a refusal.
const (
	ErrTypeNoProvider = "NoProvider"
	ErrTypePermanent  = "Permanent"
)

func pick[T any](slot string, m map[string]T, kind string) (T, error) {
	if p, ok := m[kind]; ok {
		return p, nil
	}
	var zero T
	have := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	return zero, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("this worker has no %s provider of kind %q (it has: %s)", slot, kind, strings.Join(have, ", ")),
		ErrTypeNoProvider, nil)
}

// classify turns a provider error into an activity error: permanent ones stop
// Temporal's retries, the rest are retried with backoff.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", what, err)
	if errors.Is(err, rollout.ErrPermanent) || errors.Is(err, rollout.ErrUnknownMetric) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypePermanent, nil)
	}
	return err
}

func (a *Activities) httpClient() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}
