package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/incident"
	"github.com/canaryflow/canaryflow/rollout"
)

func (c *cli) statusCmd() *cobra.Command {
	var (
		t      target
		out    output
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "status (--app A --namespace N | --id ID)",
		Short:   "Show a rollout's phase, step, weight, measurements and events",
		GroupID: "read",
		Args:    cobra.NoArgs,
		RunE: c.bounded(func(ctx context.Context) error {
			if asJSON {
				out.format = "json"
			}
			cl, id, err := c.open(ctx, &t, &out)
			if err != nil {
				return err
			}
			defer cl.Close()
			s, err := control.Status(ctx, cl, id)
			if err != nil {
				return err
			}
			if out.json() {
				return writeJSON(c.out, s)
			}
			_, err = io.WriteString(c.out, statusText(s))
			return err
		}),
	}
	t.flags(cmd)
	out.flag(cmd, "a summary")
	cmd.Flags().BoolVar(&asJSON, "json", false, "same as -o json")
	_ = cmd.Flags().MarkDeprecated("json", "use -o json")
	return cmd
}

// statusText is status's summary: the rollout's state and events, then
// what the last measurement's verdict rests on (counts, each rule's and
// custom metric's reason with its bounds and p-value, the custom metrics'
// resolved queries), last, where the eye lands after a long event log.
func statusText(s rollout.Status) string {
	text := control.FormatStatus(s)
	if m, ok := s.LastMeasurement(); ok {
		if ev := m.Evidence(); len(ev) > 0 {
			text += "evidence of the last measurement:\n  " + strings.Join(ev, "\n  ") + "\n"
		}
	}
	return text
}

func (c *cli) historyCmd() *cobra.Command {
	var (
		t   target
		out output
	)
	cmd := &cobra.Command{
		Use:   "history (--app A --namespace N | --id ID)",
		Short: "Print a rollout's event log: who did what, when",
		Long: `Print a rollout's event log, oldest first: steps, weights, approvals, pauses,
aborts (with who sent them), ignored signals and the rollback. It works on a
rollout that has ended too, as long as a worker is running to answer. The log
keeps the last 300 events; the first line says if earlier ones were dropped.`,
		GroupID: "read",
		Args:    cobra.NoArgs,
		RunE: c.bounded(func(ctx context.Context) error {
			cl, id, err := c.open(ctx, &t, &out)
			if err != nil {
				return err
			}
			defer cl.Close()
			s, err := control.Status(ctx, cl, id)
			if err != nil {
				return err
			}
			if out.json() {
				return writeJSON(c.out, struct {
					ID           string          `json:"id"`
					Phase        rollout.Phase   `json:"phase"`
					EventsLogged int             `json:"eventsLogged"`
					Events       []rollout.Event `json:"events"`
				}{id, s.Phase, s.EventsLogged, nonNil(s.Events)})
			}
			if dropped := s.EventsLogged - len(s.Events); dropped > 0 {
				fmt.Fprintf(c.out, "(the %d earliest events are no longer kept)\n", dropped)
			}
			for _, e := range s.Events {
				by := ""
				if e.By != "" {
					by = " (by " + e.By + ")"
				}
				fmt.Fprintf(c.out, "%s  %-15s %s%s\n", e.At.Local().Format(time.DateTime), e.Kind, e.Message, by)
			}
			return nil
		}),
	}
	t.flags(cmd)
	out.flag(cmd, "one event a line")
	return cmd
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

func (c *cli) reportCmd() *cobra.Command {
	var (
		t   target
		out output
	)
	cmd := &cobra.Command{
		Use:   "report (--app A --namespace N | --id ID)",
		Short: "Print a rolled-back rollout's incident report (Markdown, or -o json)",
		Long: `Print the incident report of a rollout that rolled back: outcome, reason, how far
it got and the canary's weight when the rollback began, what is left to put
right, smoke tests, measurements with their queries, and the timeline. It is
rebuilt from the rollout's status, so it matches the report the worker wrote
and adds what happened since (a resolution). Text is Markdown; -o json is the
same report for tools (schema canaryflow/incident/v1).`,
		GroupID: "read",
		Args:    cobra.NoArgs,
		RunE: c.bounded(func(ctx context.Context) error {
			cl, id, err := c.open(ctx, &t, &out)
			if err != nil {
				return err
			}
			defer cl.Close()
			in, err := control.Incident(ctx, cl, id)
			if err != nil {
				return err
			}
			r := incident.New(in)
			if out.json() {
				data, err := incident.JSON(r)
				if err != nil {
					return err
				}
				_, err = c.out.Write(data)
				return err
			}
			_, err = io.WriteString(c.out, incident.Markdown(r))
			return err
		}),
	}
	t.flags(cmd)
	out.flag(cmd, "Markdown")
	return cmd
}

func (c *cli) listCmd() *cobra.Command {
	var (
		f     control.Filter
		phase string
		out   output
	)
	cmd := &cobra.Command{
		Use:   "list [--app A] [--namespace N] [--phase P]",
		Short: "List rollouts, newest first, from Temporal's visibility",
		Long: `List rollouts, newest first, with their phase, weight and canary version, from
Temporal's visibility store (it trails the rollouts by a moment). --app,
--namespace and --phase narrow the list; phases: ` + strings.Join(control.PhaseNames(), ", ") + `.`,
		GroupID: "read",
		Args:    cobra.NoArgs,
		RunE: c.bounded(func(ctx context.Context) error {
			if err := out.check(); err != nil {
				return err
			}
			if f.Limit < 1 || f.Limit > 10000 {
				return usageError("--limit must be between 1 and 10000, got %d", f.Limit)
			}
			f.Phase = rollout.Phase(phase)
			if _, err := f.Query(); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			cl, err := c.dial(ctx)
			if err != nil {
				return err
			}
			defer cl.Close()
			rs, err := control.List(ctx, cl, f)
			if err != nil {
				return err
			}
			if out.json() {
				return writeJSON(c.out, nonNil(rs))
			}
			return writeList(c.out, rs)
		}),
	}
	cmd.Flags().StringVar(&f.App, "app", "", "only this application")
	cmd.Flags().StringVar(&f.Namespace, "namespace", "", "only this application namespace")
	cmd.Flags().StringVar(&phase, "phase", "", "only rollouts in this phase")
	cmd.Flags().IntVar(&f.Limit, "limit", 100, "list at most this many")
	_ = cmd.RegisterFlagCompletionFunc("phase", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return control.PhaseNames(), cobra.ShellCompDirectiveNoFileComp
	})
	out.flag(cmd, "a table")
	return cmd
}

func writeList(w io.Writer, rs []control.Summary) error {
	if len(rs) == 0 {
		_, err := fmt.Fprintln(w, "no rollouts match")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPHASE\tWEIGHT\tCANARY\tSTATUS\tSTARTED\tCLOSED")
	for _, r := range rs {
		phase, weight, closed := string(r.Phase), "–", "–"
		if phase == "" {
			phase = "–"
		}
		if r.Weight != nil {
			weight = fmt.Sprintf("%d%%", *r.Weight)
		}
		if r.Closed != nil {
			closed = r.Closed.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, phase, weight, dash(r.Version), r.Status,
			r.Started.Local().Format(time.DateTime), closed)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the list: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// open checks a read command's flags, then dials: nothing is contacted when
// the flags are wrong. The caller closes the client.
func (c *cli) open(ctx context.Context, t *target, out *output) (client.Client, string, error) {
	id, err := checkRead(t, out)
	if err != nil {
		return nil, "", err
	}
	cl, err := c.dial(ctx)
	if err != nil {
		return nil, "", err
	}
	return cl, id, nil
}

// checkRead checks a read command's flags before any connection.
func checkRead(t *target, out *output) (string, error) {
	if err := out.check(); err != nil {
		return "", err
	}
	return t.resolve()
}
