package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/rollout"
)

func (c *cli) watchCmd() *cobra.Command {
	var (
		t     target
		every time.Duration
	)
	cmd := &cobra.Command{
		Use:     "watch (--app A --namespace N | --id ID)",
		Short:   "Follow a rollout until it ends; exit 0 when promoted",
		GroupID: "read",
		Long: `Follow a rollout until it ends. On a terminal it draws a live view: the step
with a progress bar and the time left in a hold, the canary's weight, the latest
canary vs stable figures and the recent verdicts and events. Into a pipe or a
file it prints one line per event and measurement instead.

Exit code 0 when the rollout is promoted, 3 when it ends any other way (rolled
back, rollback failed, rejected, or its workflow terminated), 1 when it cannot
be followed. Ctrl-C stops watching, not the rollout.`,
		Example: `  starter watch --app shop --namespace production
  starter watch --id canary-production.shop | tee rollout.log`,
		Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command) error {
			id, err := t.resolve()
			if err != nil {
				return err
			}
			if every <= 0 {
				return usageError("--every must be positive, got %s", every)
			}
			cl, err := c.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer cl.Close()
			return c.follow(cmd.Context(), cl, id, every)
		}),
	}
	t.flags(cmd)
	cmd.Flags().DurationVar(&every, "every", time.Second, "poll interval")
	return cmd
}

// follow watches a rollout to its end and turns the ending into the exit
// code: nil when promoted, exit 3 when it ended otherwise.
func (c *cli) follow(ctx context.Context, cl client.Client, id string, every time.Duration) error {
	var (
		s   rollout.Status
		err error
	)
	if c.isTerminal {
		s, err = c.live(ctx, cl, id, every)
	} else {
		s, err = control.Watch(ctx, cl, id, every, c.out)
	}
	switch {
	case errors.Is(err, control.ErrEnded):
		return &exitError{code: exitEnded, err: err}
	case ctx.Err() != nil:
		return fmt.Errorf("stopped watching %s (the rollout goes on): %w", id, ctx.Err())
	case err != nil:
		return err
	}
	fmt.Fprintf(c.out, "\nrollout %s ended %s\n", id, s.Phase)
	if s.Reason != "" {
		fmt.Fprintf(c.out, "reason: %s\n", s.Reason)
	}
	if s.IncidentReport != "" {
		fmt.Fprintf(c.out, "incident report: starter report --id %s (written by the worker to %s)\n", id, s.IncidentReport)
	}
	if s.Phase == rollout.PhaseRollbackFailed && s.Resolution == nil {
		fmt.Fprintf(c.out, "left: %s\nthe rollout stays open and keeps its ID: fix the cause, then `starter retry-rollback --id %s`,\nor put it right by hand and `starter resolve --id %s --reason \"what you did\"`\n",
			strings.Join(s.Left, "; "), id, id)
	}
	if s.Phase != rollout.PhasePromoted {
		return &exitError{code: exitEnded, err: fmt.Errorf("rollout %s ended %s, not promoted", id, s.Phase)}
	}
	return nil
}

// live redraws the live view in place at every poll.
func (c *cli) live(ctx context.Context, cl client.Client, id string, every time.Duration) (rollout.Status, error) {
	// The plan gives the holds' lengths; without it the view still works,
	// only without the time left.
	var spec *rollout.Spec
	if sp, err := control.Spec(ctx, cl, id); err == nil {
		spec = &sp
	}
	drawn := 0
	return control.Follow(ctx, cl, id, every, func(s rollout.Status) {
		view := fit(liveView(id, s, spec, c.now()), c.width)
		if drawn > 0 {
			// Back to the first line drawn, and clear from there down.
			fmt.Fprintf(c.out, "\x1b[%dF\x1b[J", drawn)
		}
		fmt.Fprint(c.out, view)
		drawn = strings.Count(view, "\n")
	})
}

// fit cuts each line to the terminal's width: a line that wrapped would
// take two rows, and redrawing would then leave old rows behind.
func fit(view string, width int) string {
	if width <= 1 {
		return view
	}
	ls := strings.SplitAfter(view, "\n")
	for i, l := range ls {
		if r := []rune(strings.TrimSuffix(l, "\n")); len(r) >= width {
			ls[i] = string(r[:width-2]) + "…\n"
		}
	}
	return strings.Join(ls, "")
}

// liveViewEvents is how many recent events the live view shows.
const liveViewEvents = 6

// liveView renders one frame of watch's live view.
func liveView(id string, s rollout.Status, spec *rollout.Spec, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rollout %s/%s  %s → %s  (%s)\n", s.Namespace, s.App, s.Stable.Version, s.Canary.Version, id)
	phase := string(s.Phase)
	if s.Paused {
		phase += " (paused: starter resume continues)"
	}
	fmt.Fprintf(&b, "phase    %s\n", phase)
	fmt.Fprintf(&b, "steps    %s %d/%d  %s\n", bar(percentOf(s.Step, s.StepCount), 20), s.Step, s.StepCount, stepState(id, s, spec, now))
	fmt.Fprintf(&b, "weight   %s %3d%%\n", bar(s.Weight, 20), s.Weight)
	if m, ok := s.LastMeasurement(); ok {
		fmt.Fprintf(&b, "latest   %s %s at %d%%: %s\n", m.At.Local().Format(time.TimeOnly), m.Verdict, m.Weight, m.Figures())
		if len(m.Reasons) > 0 {
			fmt.Fprintf(&b, "         → %s\n", strings.Join(m.Reasons, "; "))
		}
		fmt.Fprintf(&b, "verdicts %s  (%d measured)\n", verdicts(s.Measurements, 12), s.MeasurementsTaken)
	} else {
		b.WriteString("latest   no measurement yet (analysis starts at the first non-zero weight)\n")
	}
	if s.Reason != "" {
		fmt.Fprintf(&b, "reason   %s\n", s.Reason)
	}
	events := s.Events[max(0, len(s.Events)-liveViewEvents):]
	for i, e := range events {
		label := "         "
		if i == 0 {
			label = "events   "
		}
		b.WriteString(label + control.FormatEvent(e) + "\n")
	}
	fmt.Fprintf(&b, "updated  %s; Ctrl-C stops watching, not the rollout\n", now.Local().Format(time.TimeOnly))
	return b.String()
}

// stepState says what the current step is doing: a hold's time left, an
// approval wait and how to give it, an analysis gate.
func stepState(id string, s rollout.Status, spec *rollout.Spec, now time.Time) string {
	if s.Step == 0 {
		return "before the first step"
	}
	name := s.StepName
	if s.Phase == rollout.PhaseAwaitApproval {
		return name + " — waiting for approval: starter approve --id " + id
	}
	if spec == nil || s.Step > len(spec.Steps) || s.Phase.Final() {
		return name
	}
	st := spec.Steps[s.Step-1]
	if st.Pause != nil && st.Pause.Duration > 0 && !s.StepStartedAt.IsZero() {
		left := max(0, st.Pause.Duration.D()-now.Sub(s.StepStartedAt)).Round(time.Second)
		return fmt.Sprintf("%s — %s left in the hold", name, left)
	}
	return name
}

func percentOf(n, of int) int {
	if of <= 0 {
		return 0
	}
	return n * 100 / of
}

// verdicts shows the last n verdicts as marks, oldest first: ✓ Successful,
// ✗ Failed, ? Inconclusive, ! Error.
func verdicts(ms []rollout.Measurement, n int) string {
	var b strings.Builder
	for _, m := range ms[max(0, len(ms)-n):] {
		switch m.Verdict {
		case rollout.Successful:
			b.WriteString("✓")
		case rollout.Failed:
			b.WriteString("✗")
		case rollout.Inconclusive:
			b.WriteString("?")
		default:
			b.WriteString("!")
		}
	}
	return b.String()
}
