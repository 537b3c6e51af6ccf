package control

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/rollout"
)

// Watch polls the status every interval and prints what changed (phase, step,
// weight, new measurements and events) until the rollout reaches a final phase.
func Watch(ctx context.Context, c client.Client, id string, every time.Duration, out io.Writer) (rollout.Status, error) {
	var last rollout.Status
	seenEvents, seenMeasurements := 0, 0
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s, err := Status(ctx, c, id)
		if err != nil {
			return last, err
		}
		// New events and measurements, printed in the order they happened.
		type line struct {
			at   time.Time
			text string
		}
		var lines []line
		fresh := min(s.EventsLogged-seenEvents, len(s.Events))
		for _, e := range s.Events[len(s.Events)-fresh:] {
			lines = append(lines, line{e.At, FormatEvent(e)})
		}
		fresh = min(s.MeasurementsTaken-seenMeasurements, len(s.Measurements))
		for _, m := range s.Measurements[len(s.Measurements)-fresh:] {
			lines = append(lines, line{m.At, FormatMeasurement(m)})
		}
		slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
		for _, l := range lines {
			fmt.Fprintln(out, l.text)
		}
		seenEvents, seenMeasurements = s.EventsLogged, s.MeasurementsTaken
		last = s
		if s.Phase.Final() {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-t.C:
		}
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
