// Command starter starts and steers canary rollouts: start one from a spec
// file, follow it, read its status, and approve, abort, promote, pause or
// resume it. It talks to Temporal with the standard TEMPORAL_* environment.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/rollout"
)

const usage = `usage: starter <command> [flags]

commands:
  start   -f spec.yaml [--wait]          validate the spec and start its rollout
  watch   --app A --namespace N          follow a rollout until it ends
  status  --app A --namespace N [--json] show phase, step, weight, measurements, events
  approve --app A --namespace N [--step N] release the step waiting for approval (N as status shows it)
  abort   --app A --namespace N [--reason R] roll back now
  promote --app A --namespace N          skip the remaining steps and promote
  pause   --app A --namespace N          hold the steps (analysis continues)
  resume  --app A --namespace N          continue the steps
  retry-rollback --app A --namespace N   a RollbackFailed rollout tries its rollback again
  resolve --app A --namespace N --reason R  close a RollbackFailed rollout put right by hand

Every command takes --address and --temporal-namespace (default: TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE or localhost:7233 / default), --id instead of --app/--namespace
(--namespace is the application's namespace), and --by (who acts; default: your user).
watch and start --wait poll every --every (default 1s).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
	}
	os.Exit(code)
}

// run returns the exit code: 0 success (or promoted), 1 failure, 2 usage,
// 3 a rollout that ended without promotion.
func run(ctx context.Context, args []string, out io.Writer) (int, error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, usage)
		return 2, nil
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "start", "watch", "status", "approve", "abort", "promote", "pause", "resume", "retry-rollback", "resolve":
	default:
		fmt.Fprint(out, usage)
		return 2, fmt.Errorf("unknown command %q", cmd)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	address := fs.String("address", "", "Temporal frontend host:port (default TEMPORAL_ADDRESS or localhost:7233)")
	tns := fs.String("temporal-namespace", "", "Temporal namespace (default TEMPORAL_NAMESPACE or default)")
	app := fs.String("app", "", "application name")
	ns := fs.String("namespace", "", "application's Kubernetes namespace")
	id := fs.String("id", "", "rollout workflow ID (instead of --app/--namespace)")
	by := fs.String("by", currentUser(), "who is acting, for the event log")
	file := fs.String("f", "", "rollout spec file (start)")
	wait := fs.Bool("wait", false, "follow the rollout until it ends (start)")
	asJSON := fs.Bool("json", false, "print the status as JSON (status)")
	step := fs.Int("step", 0, "step number to approve, as status shows it, counting from 1 (approve; default: whichever waits)")
	reason := fs.String("reason", "", "why (abort; required by resolve)")
	every := fs.Duration("every", time.Second, "poll interval (watch)")
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	if cmd == "resolve" && (*reason == "" || *by == "") {
		return 2, errors.New("resolve: --reason (what was done by hand) and --by are required")
	}
	if *step < 0 {
		return 2, fmt.Errorf("--step must be a step number from 1 (as status shows it), got %d", *step)
	}

	var spec rollout.Spec
	if cmd == "start" {
		if *file == "" {
			return 2, errors.New("start: -f spec.yaml is required")
		}
		data, err := os.ReadFile(*file)
		if err != nil {
			return 1, fmt.Errorf("reading spec: %w", err)
		}
		// Validated before any connection: a bad spec touches nothing.
		if spec, err = rollout.Parse(data); err != nil {
			return 1, fmt.Errorf("%s: %w", *file, err)
		}
		*id = rollout.WorkflowID(spec.Namespace, spec.App)
	} else if *id == "" {
		if *app == "" || *ns == "" {
			return 2, fmt.Errorf("%s: give --app and --namespace, or --id", cmd)
		}
		*id = rollout.WorkflowID(*ns, *app)
	}

	c, err := control.Dial(ctx, *address, *tns)
	if err != nil {
		return 1, err
	}
	defer c.Close()

	switch cmd {
	case "start":
		r, err := control.Start(ctx, c, spec, *by)
		if err != nil {
			return 1, err
		}
		fmt.Fprintf(out, "started rollout %s (run %s)\n", r.GetID(), r.GetRunID())
		if *wait {
			return follow(ctx, c, *id, *every, out)
		}
		return 0, nil
	case "watch":
		return follow(ctx, c, *id, *every, out)
	case "status":
		s, err := control.Status(ctx, c, *id)
		if err != nil {
			return 1, err
		}
		if *asJSON {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return 0, enc.Encode(s)
		}
		fmt.Fprint(out, control.FormatStatus(s))
		return 0, nil
	case "approve":
		p := rollout.Approval{By: *by}
		if *step > 0 {
			p.Step = step
		}
		return signalled(control.Signal(ctx, c, *id, rollout.SignalApprove, p))
	case "abort":
		return signalled(control.Signal(ctx, c, *id, rollout.SignalAbort, rollout.Abort{Reason: *reason, By: *by}))
	case "promote", "pause", "resume", "retry-rollback":
		return signalled(control.Signal(ctx, c, *id, cmd, rollout.Actor{By: *by}))
	case "resolve":
		return signalled(control.Signal(ctx, c, *id, rollout.SignalResolve, rollout.Resolve{Reason: *reason, By: *by}))
	}
	return 2, fmt.Errorf("unknown command %q", cmd)
}

func signalled(err error) (int, error) {
	if err != nil {
		return 1, err
	}
	return 0, nil
}

func follow(ctx context.Context, c client.Client, id string, every time.Duration, out io.Writer) (int, error) {
	s, err := control.Watch(ctx, c, id, every, out)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(out, "\nrollout %s ended %s\n", id, s.Phase)
	if s.Reason != "" {
		fmt.Fprintf(out, "reason: %s\n", s.Reason)
	}
	if s.Phase == rollout.PhaseRollbackFailed && s.Resolution == nil {
		fmt.Fprintf(out, "left: %s\nthe rollout stays open and keeps its ID: fix the cause, then `starter retry-rollback --id %s`,\nor put it right by hand and `starter resolve --id %s --reason \"what you did\"`\n",
			strings.Join(s.Left, "; "), id, id)
	}
	if s.Phase != rollout.PhasePromoted {
		return 3, nil
	}
	return 0, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}
