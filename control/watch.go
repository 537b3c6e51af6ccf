package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/rollout"
)

// ErrEnded means the rollout's workflow closed without reaching a final
// phase: terminated, timed out, cancelled before it could compensate, or
// failed. Its status will not change again, and nothing may have moved
// traffic back: whoever watches must look.
var ErrEnded = errors.New("the rollout's workflow ended without a final phase")

// Watch polls the status every interval and prints what changed (phase, step,
// weight, new measurements and events) until the rollout reaches a final
// phase, or its workflow closes without one (then the error wraps ErrEnded
// and says how it closed), so a terminated rollout never leaves it waiting.
func Watch(ctx context.Context, c client.Client, id string, every time.Duration, out io.Writer) (rollout.Status, error) {
	w := watcher{out: out}
	return Follow(ctx, c, id, every, w.print)
}

// Follow polls the status every interval and hands each one to seen, until
// the rollout reaches a final phase (returned with a nil error) or its
// workflow closes without one (the last status seen, and an error wrapping
// ErrEnded that says how it closed). Watch and the CLI's live view share it,
// so both end the same way.
func Follow(ctx context.Context, c client.Client, id string, every time.Duration, seen func(rollout.Status)) (rollout.Status, error) {
	var last rollout.Status
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s, err := Status(ctx, c, id)
		if err != nil {
			// A closed workflow may not answer queries (no worker replays
			// it); say how it closed rather than only that the query failed.
			if closed, cerr := closedAs(ctx, c, id); cerr == nil && closed != "" {
				return last, fmt.Errorf("%w: %s is %s, and its status cannot be read: %w", ErrEnded, id, closed, err)
			}
			return last, err
		}
		last = s
		seen(s)
		if s.Phase.Final() {
			return s, nil
		}
		closed, err := closedAs(ctx, c, id)
		if err != nil {
			return last, err
		}
		if closed != "" {
			// It may have closed normally between the two calls: read once more.
			if s, err := Status(ctx, c, id); err == nil {
				last = s
				seen(s)
				if s.Phase.Final() {
					return s, nil
				}
			}
			return last, fmt.Errorf("%w: %s is %s in phase %s at weight %d%%; nothing may have moved traffic back, check the router",
				ErrEnded, id, closed, last.Phase, last.Weight)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-t.C:
		}
	}
}

// watcher remembers what has been printed, so each line is printed once.
type watcher struct {
	out                          io.Writer
	seenEvents, seenMeasurements int
}

// print writes new events and measurements in the order they happened.
func (w *watcher) print(s rollout.Status) {
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	fresh := max(0, min(s.EventsLogged-w.seenEvents, len(s.Events)))
	for _, e := range s.Events[len(s.Events)-fresh:] {
		lines = append(lines, line{e.At, FormatEvent(e)})
	}
	fresh = max(0, min(s.MeasurementsTaken-w.seenMeasurements, len(s.Measurements)))
	for _, m := range s.Measurements[len(s.Measurements)-fresh:] {
		lines = append(lines, line{m.At, FormatMeasurement(m)})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	for _, l := range lines {
		fmt.Fprintln(w.out, l.text)
	}
	w.seenEvents, w.seenMeasurements = s.EventsLogged, s.MeasurementsTaken
}

// closedAs says how the latest run of id closed ("Terminated", "TimedOut",
// ...), or "" while it runs. A run that continued as new is not closed: the
// chain goes on, and describing by ID alone finds its newest run.
func closedAs(ctx context.Context, c client.Client, id string) (string, error) {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return "", fmt.Errorf("describing %s: %w", id, err)
	}
	switch st := d.GetWorkflowExecutionInfo().GetStatus(); st {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "", nil
	default:
		return st.String(), nil
	}
}

// FormatEvent renders one event line.
func FormatEvent(e rollout.Event) string {
	by := ""
	if e.By != "" {
		by = " (by " + e.By + ")"
	}
	return fmt.Sprintf("%s  %-15s %s%s", e.At.Local().Format(time.TimeOnly), e.Kind, e.Message, by)
}

// FormatMeasurement renders canary against stable on one line.
func FormatMeasurement(m rollout.Measurement) string {
	line := fmt.Sprintf("%s  %-15s weight %3d%%  %s",
		m.At.Local().Format(time.TimeOnly), "measure "+string(m.Verdict), m.Weight, m.Figures())
	if len(m.Reasons) > 0 {
		line += "\n" + strings.Repeat(" ", 26) + "→ " + strings.Join(m.Reasons, "; ")
	}
	return line
}

// FormatStatus renders a status for a terminal.
func FormatStatus(s rollout.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rollout %s/%s: %s → %s\n", s.Namespace, s.App, s.Stable.Version, s.Canary.Version)
	fmt.Fprintf(&b, "phase:   %s", s.Phase)
	if s.Paused {
		b.WriteString(" (paused)")
	}
	b.WriteString("\n")
	if s.Step > 0 {
		fmt.Fprintf(&b, "step:    %d/%d %s (since %s)\n", s.Step, s.StepCount, s.StepName, s.StepStartedAt.Local().Format(time.TimeOnly))
	}
	fmt.Fprintf(&b, "weight:  %d%%\n", s.Weight)
	if s.Reason != "" {
		fmt.Fprintf(&b, "reason:  %s\n", s.Reason)
	}
	if len(s.ApprovedBy) > 0 {
		fmt.Fprintf(&b, "approved by: %s\n", strings.Join(s.ApprovedBy, ", "))
	}
	if s.Smoke != nil {
		b.WriteString("smoke tests:\n")
		for _, c := range s.Smoke.Checks {
			mark := "ok  "
			if !c.Passed {
				mark = "FAIL"
			}
			fmt.Fprintf(&b, "  %s %s: %s\n", mark, c.Name, c.Figure)
		}
	}
	if m, ok := s.LastMeasurement(); ok {
		b.WriteString("last measurement:\n  " + FormatMeasurement(m) + "\n")
		for _, k := range slices.Sorted(maps.Keys(m.Sample.Queries)) {
			fmt.Fprintf(&b, "  %s: %s\n", k, m.Sample.Queries[k])
		}
	}
	if s.IncidentReport != "" {
		fmt.Fprintf(&b, "incident report: %s\n", s.IncidentReport)
	}
	b.WriteString("events:\n")
	for _, e := range s.Events {
		b.WriteString("  " + FormatEvent(e) + "\n")
	}
	return b.String()
}
