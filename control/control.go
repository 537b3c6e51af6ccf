// Package control starts, signals, queries and waits for rollouts through a
// Temporal client. The starter CLI, `make demo` and the integration tests all
// go through it, so what they do is exactly what a user's CLI does.
package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

// ErrAlreadyRunning means the app already has a rollout in its namespace.
var ErrAlreadyRunning = errors.New("a rollout is already running")

// Dial connects using the standard Temporal configuration (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY, and the profile
// file), with a non-empty address or namespace overriding them.
func Dial(ctx context.Context, address, namespace string) (client.Client, error) {
	o, err := ClientOptions(address, namespace)
	if err != nil {
		return nil, err
	}
	return DialOptions(ctx, o)
}

// ClientOptions are the options Dial uses, for a caller that adds its own
// before dialling (the worker's metrics handler, which must be set when the
// connection is made) or needs the namespace they resolve to.
func ClientOptions(address, namespace string) (client.Options, error) {
	o, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return o, fmt.Errorf("loading Temporal client configuration: %w", err)
	}
	o.Logger = sdklog.NewStructuredLogger(slog.Default())
	if address != "" {
		o.HostPort = address
	}
	if namespace != "" {
		o.Namespace = namespace
	}
	if o.Namespace == "" {
		o.Namespace = client.DefaultNamespace
	}
	return o, nil
}

// DialOptions connects with o; the error names the address tried.
func DialOptions(ctx context.Context, o client.Options) (client.Client, error) {
	c, err := client.DialContext(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("connecting to Temporal at %s: %w", hostPort(o.HostPort), err)
	}
	return c, nil
}

func hostPort(h string) string {
	if h == "" {
		return client.DefaultHostPort
	}
	return h
}

// Start validates the spec and starts its rollout. Nothing is started when
// the spec is invalid (the error lists every problem) or when the app already
// has a rollout running (the error names it).
func Start(ctx context.Context, c client.Client, spec rollout.Spec, by string) (client.WorkflowRun, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	id := rollout.WorkflowID(spec.Namespace, spec.App)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: workflows.TaskQueue,
		// One rollout per app and namespace at a time; a finished one may be followed by a new one.
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            fmt.Sprintf("canary %s/%s: %s → %s", spec.Namespace, spec.App, spec.Stable.Version, spec.Canary.Version),
		StaticDetails:                            planDetails(spec),
	}, workflows.CanaryRollout, workflows.Input{Spec: spec, By: by})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil, fmt.Errorf("%w for %s/%s: workflow %s (run %s); wait for it to finish or abort it first",
			ErrAlreadyRunning, spec.Namespace, spec.App, id, started.RunId)
	}
	if err != nil {
		return nil, fmt.Errorf("starting rollout %s: %w", id, err)
	}
	return run, nil
}

// Status queries a rollout's status; it works while running and after it
// ended (a worker replays the closed run to answer). A rollout that does not
// exist is an error wrapping ErrNoRollout.
func Status(ctx context.Context, c client.Client, id string) (rollout.Status, error) {
	v, err := c.QueryWorkflow(ctx, id, "", rollout.QueryStatus)
	if err != nil {
		return rollout.Status{}, Explain(ctx, c, id, fmt.Errorf("querying status of %s: %w", id, err))
	}
	var s rollout.Status
	if err := v.Get(&s); err != nil {
		return rollout.Status{}, fmt.Errorf("decoding status of %s: %w", id, err)
	}
	return s, nil
}

// Signal sends one of the rollout signals with its payload.
func Signal(ctx context.Context, c client.Client, id, name string, payload any) error {
	switch name {
	case rollout.SignalApprove, rollout.SignalAbort, rollout.SignalPromote, rollout.SignalPause, rollout.SignalResume,
		rollout.SignalRetryRollback, rollout.SignalResolve:
	default:
		return fmt.Errorf("signal %q: must be one of approve, abort, promote, pause, resume, retry-rollback, resolve", name)
	}
	if err := c.SignalWorkflow(ctx, id, "", name, payload); err != nil {
		return fmt.Errorf("sending %s to %s: %w", name, id, err)
	}
	return nil
}

// Wait blocks until the rollout ends and returns how it ended. A rollback is
// a Result with its phase and reason, not an error; errors are for failing to
// find out.
func Wait(ctx context.Context, c client.Client, id string) (workflows.Result, error) {
	var res workflows.Result
	err := c.GetWorkflow(ctx, id, "").Get(ctx, &res)
	if err == nil {
		return res, nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.HasDetails() && app.Details(&res) == nil && res.Phase != "" {
		return res, nil
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) && canceled.HasDetails() && canceled.Details(&res) == nil && res.Phase != "" {
		return res, nil
	}
	return res, fmt.Errorf("waiting for %s: %w", id, err)
}

// planDetails is the plan as the Temporal UI shows it beside the rollout.
func planDetails(spec rollout.Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan (analysis every %s):\n", spec.Analysis.Interval.D())
	for i, st := range spec.Steps {
		fmt.Fprintf(&b, "%d. %s\n", i+1, st.Describe())
	}
	b.WriteString("then promote")
	return b.String()
}
