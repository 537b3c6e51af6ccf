package incident

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Markdown renders the report for people: what rolled back, why, how far it
// got, what is left to do by hand, the evidence and the timeline. Text that
// came from outside (reasons, names, messages) is kept on one line and its
// table cells escaped, so it cannot break the document's structure.
func Markdown(r Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Incident: canary rollback of %s/%s\n\n", inline(r.Namespace), inline(r.App))
	fmt.Fprintf(&b, "- Rollout: `%s` (run `%s`)\n", code(r.RolloutID), code(r.RunID))
	fmt.Fprintf(&b, "- Stable: %s, canary: %s\n", inline(r.Stable), inline(r.Canary))
	fmt.Fprintf(&b, "- Outcome: %s\n", r.Outcome)
	fmt.Fprintf(&b, "- Reason: %s\n", inline(r.Reason))
	fmt.Fprintf(&b, "- Reached: step %d of %d (%s), weight %d%% before rollback\n", r.Step, r.StepCount, inline(r.StepName), r.WeightAtRollback)
	fmt.Fprintf(&b, "- Canary weight now: %d%%\n", r.WeightNow)
	if len(r.ApprovedBy) > 0 {
		fmt.Fprintf(&b, "- Approved by: %s\n", inline(strings.Join(r.ApprovedBy, ", ")))
	}
	if len(r.Left) > 0 {
		fmt.Fprintf(&b, "- **Left to put right by hand** (after %d rollback attempts): %s\n", r.RollbackAttempts, inline(strings.Join(r.Left, "; ")))
	}
	if res := r.Resolution; res != nil {
		fmt.Fprintf(&b, "- Resolved by %s at %s: %s\n", inline(res.By), timeOf(res.At), inline(res.Reason))
	}
	b.WriteString("\n")
	if len(r.Smoke) > 0 {
		b.WriteString("## Smoke tests\n\n| check | passed | figure |\n|---|---|---|\n")
		for _, c := range r.Smoke {
			fmt.Fprintf(&b, "| %s | %v | %s |\n", cell(c.Name), c.Passed, cell(c.Figure))
		}
		b.WriteString("\n")
	}
	if len(r.Measurements) > 0 {
		writeMeasurements(&b, r)
		writeEvidence(&b, r.Measurements)
	}
	b.WriteString("## Timeline\n\n")
	if dropped := r.EventsLogged - len(r.Timeline); dropped > 0 {
		fmt.Fprintf(&b, "(the %d earliest events are no longer kept)\n\n", dropped)
	}
	for _, e := range r.Timeline {
		by := ""
		if e.By != "" {
			by = " (by " + inline(e.By) + ")"
		}
		fmt.Fprintf(&b, "- %s %s: %s%s\n", timeOf(e.At), inline(e.Kind), inline(e.Message), by)
	}
	return b.String()
}

func writeMeasurements(b *strings.Builder, r Report) {
	b.WriteString("## Measurements\n\n")
	if dropped := r.MeasurementsTaken - len(r.Measurements); dropped > 0 {
		fmt.Fprintf(b, "The last %d of %d measurements.\n\n", len(r.Measurements), r.MeasurementsTaken)
	}
	b.WriteString("| at | weight | verdict | canary req/s | canary err | canary p95 | canary p99 | stable req/s | stable err | stable p95 | stable p99 | why |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range r.Measurements {
		c, st := m.Sample.Canary, m.Sample.Stable
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m.At.UTC().Format(time.TimeOnly), m.Weight, m.Verdict,
			c.RequestRate.Format(1, "%.2f"), c.ErrorRate.Format(100, "%.2f%%"), c.P95.Format(1000, "%.0fms"), c.P99.Format(1000, "%.0fms"),
			st.RequestRate.Format(1, "%.2f"), st.ErrorRate.Format(100, "%.2f%%"), st.P95.Format(1000, "%.0fms"), st.P99.Format(1000, "%.0fms"),
			cell(strings.Join(m.Reasons, "; ")))
	}
	if last := r.Measurements[len(r.Measurements)-1]; len(last.Sample.Queries) > 0 {
		b.WriteString("\nQueries of the last measurement:\n\n")
		for _, k := range slices.Sorted(maps.Keys(last.Sample.Queries)) {
			fmt.Fprintf(b, "- %s: `%s`\n", inline(k), code(last.Sample.Queries[k]))
		}
	}
	b.WriteString("\n")
}

// inline keeps outside text on one line: a reason with a newline followed by
// "# " or "- " must not start a heading or a list item of its own.
func inline(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// cell escapes a table cell's pipe, which would otherwise end the cell.
func cell(s string) string { return strings.ReplaceAll(inline(s), "|", `\|`) }

// code keeps text inside an inline code span: a backtick would close it.
func code(s string) string { return strings.ReplaceAll(inline(s), "`", "'") }
