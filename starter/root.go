package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"golang.org/x/term"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/rollout"
)

// Exit codes: the contract scripts and CI jobs rely on.
const (
	exitOK       = 0 // done; for watch and start --wait: promoted
	exitFailure  = 1 // could not do it: server unreachable, no such rollout, …
	exitUsage    = 2 // the command line is wrong
	exitEnded    = 3 // the rollout ended without promotion
	exitRefused  = 4 // the rollout refused the action: it does not apply now
	exitCodeHelp = `Exit codes:
  0  done (watch, start --wait: the rollout was promoted)
  1  failure: server unreachable, no such rollout, …
  2  usage: a flag or argument is wrong
  3  the rollout ended without promotion (rolled back, rejected, terminated)
  4  refused: the action does not apply now (nothing waits for approval, the rollout has ended, …)
`
)

// exitError carries the exit code a command chose. quiet errors were
// already reported by the command (a refusal's reason, a watch's ending).
type exitError struct {
	code  int
	err   error
	quiet bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// cli holds what every command shares: where output goes, how to reach
// Temporal, and (in tests) how long a dial may take.
type cli struct {
	out, errOut io.Writer
	address     string
	tns         string
	// isTerminal says whether out is a terminal, for watch's live view,
	// and width is its width in columns (0 when unknown).
	isTerminal bool
	width      int
	// now is the clock the live view counts down with.
	now func() time.Time
	// timeout bounds waiting for an answer (reads and actions).
	timeout time.Duration
}

// execute runs one command line and returns its exit code.
func execute(ctx context.Context, args []string, out, errOut io.Writer) int {
	c := &cli{out: out, errOut: errOut, now: time.Now}
	c.isTerminal, c.width = terminal(out)
	root := c.root()
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// Not from a command's own run: cobra refused the command line.
		ee = &exitError{code: exitUsage, err: err}
	}
	if !ee.quiet {
		fmt.Fprintln(errOut, "starter:", ee.err)
	}
	if ee.code == exitUsage {
		fmt.Fprintf(errOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return ee.code
}

func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "starter",
		Short: "Start and steer canary rollouts",
		Long: `starter plans, starts, follows and steers canary rollouts run by canaryflow's worker.

A rollout is named by --app and --namespace (the application's namespace), or by
its workflow ID with --id (canary-<namespace>.<app>). Actions (approve, abort,
promote, pause, resume, retry-rollback, resolve) are answered by the rollout
itself: the answer is printed, or the reason it refused (exit code 4).

Temporal is reached with the standard environment (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY, or a temporal.toml
profile); --address and --temporal-namespace override it.

` + exitCodeHelp,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_ = cmd.Help()
			return usageError("a command is required")
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: exitUsage, err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&c.address, "address", "", "Temporal frontend host:port (default TEMPORAL_ADDRESS or localhost:7233)")
	pf.StringVar(&c.tns, "temporal-namespace", "", "Temporal namespace (default TEMPORAL_NAMESPACE or default)")
	pf.DurationVar(&c.timeout, "timeout", 30*time.Second, "how long status, history, report, list and actions wait for an answer")

	root.AddGroup(&cobra.Group{ID: "run", Title: "Plan and start:"},
		&cobra.Group{ID: "read", Title: "Read:"}, &cobra.Group{ID: "act", Title: "Act on a running rollout:"})
	root.AddCommand(c.startCmd(), c.planCmd())
	root.AddCommand(c.statusCmd(), c.watchCmd(), c.listCmd(), c.historyCmd(), c.reportCmd())
	root.AddCommand(c.actionCmds()...)
	return root
}

// dialTimeout bounds connecting to Temporal: an address that drops packets
// must fail with its name in the error, not hang the command.
const dialTimeout = 15 * time.Second

// dial connects to Temporal; the error names the address tried.
func (c *cli) dial(ctx context.Context) (client.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return control.Dial(dctx, c.address, c.tns)
}

// run wraps a command's work: a plain error is a failure (exit 1).
func run(fn func(cmd *cobra.Command) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		err := fn(cmd)
		var ee *exitError
		if err != nil && !errors.As(err, &ee) {
			return &exitError{code: exitFailure, err: err}
		}
		return err
	}
}

// bounded runs a command that waits for one answer (a query, an update, a
// listing) with --timeout: with no worker to answer, the server would keep
// the question open, and a person would be left waiting without a word.
func (c *cli) bounded(fn func(ctx context.Context) error) func(*cobra.Command, []string) error {
	return run(func(cmd *cobra.Command) error {
		if c.timeout <= 0 {
			return usageError("--timeout must be positive, got %s", c.timeout)
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), c.timeout)
		defer cancel()
		err := fn(ctx)
		var late *serviceerror.DeadlineExceeded
		if err != nil && (errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &late)) && cmd.Context().Err() == nil {
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != exitUsage {
				return fmt.Errorf("no answer within %s; is a canaryflow worker running? (%w)", c.timeout, err)
			}
		}
		return err
	})
}

// target names the rollout a command acts on.
type target struct{ id, app, ns string }

func (t *target) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.app, "app", "", "application name")
	f.StringVar(&t.ns, "namespace", "", "application's namespace")
	f.StringVar(&t.id, "id", "", "rollout workflow ID, instead of --app and --namespace")
	cmd.MarkFlagsMutuallyExclusive("id", "app")
	cmd.MarkFlagsMutuallyExclusive("id", "namespace")
	_ = cmd.RegisterFlagCompletionFunc("id", t.complete)
}

// completionTimeout bounds asking the server for IDs to complete: a shell
// waiting on Tab must not hang when Temporal is down.
const completionTimeout = 3 * time.Second

// complete offers the IDs of the newest rollouts, from visibility, with
// the address and namespace flags already on the command line.
func (t *target) complete(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	address, _ := cmd.Flags().GetString("address")
	tns, _ := cmd.Flags().GetString("temporal-namespace")
	cl, err := control.Dial(ctx, address, tns)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	defer cl.Close()
	rs, err := control.List(ctx, cl, control.Filter{Limit: 50})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID + "\t" + string(r.Phase)
	}
	return ids, cobra.ShellCompDirectiveNoFileComp
}

// resolve returns the workflow ID: --id as given, or derived from --app and --namespace.
func (t *target) resolve() (string, error) {
	if t.id != "" {
		return t.id, nil
	}
	if t.app == "" || t.ns == "" {
		return "", usageError("give --app and --namespace, or --id")
	}
	return rollout.WorkflowID(t.ns, t.app), nil
}

// actor is --by: who acts, for the rollout's event log.
func actorFlag(cmd *cobra.Command, by *string) {
	cmd.Flags().StringVar(by, "by", currentUser(), fmt.Sprintf("who is acting, for the event log (at most %d bytes)", rollout.MaxByBytes))
}

func checkBy(by string) error {
	if len(by) > rollout.MaxByBytes {
		return usageError("--by is %d bytes long; the maximum is %d", len(by), rollout.MaxByBytes)
	}
	return nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// terminal reports whether w is a terminal and how wide, so watch draws its
// live view there and prints plain lines into pipes and files.
func terminal(w io.Writer) (bool, int) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return true, 0
	}
	return true, width
}
