package activities

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// Notify announces an event through the spec's notifier.
func (a *Activities) Notify(ctx context.Context, kind string, n rollout.Notification) error {
	p, err := pick("notify", a.Notifiers, kind)
	if err != nil {
		return err
	}
	return classify("notifying "+n.Event, p.Notify(ctx, n))
}

// WriteIncident writes a rollback's incident report as Markdown and returns its path.
// The file name derives from the run, so a retry overwrites rather than duplicates.
// The IDs come from outside (whoever started the workflow chose its ID), so
// the name is escaped injectively (rollout.FileName: no separators, no "..",
// long IDs shortened by their hash) and the file is written through an
// os.Root, which refuses any path (or symlink) leading out of the directory.
func (a *Activities) WriteIncident(_ context.Context, in rollout.Incident) (string, error) {
	dir := a.IncidentDir
	if dir == "" {
		dir = "incidents"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating incident directory: %w", err)
	}
	name := rollout.FileName(in.RolloutID, in.RunID) + ".md"
	if !filepath.IsLocal(name) {
		return "", fmt.Errorf("naming incident report for %q: %q would leave %s", in.RolloutID, name, dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", fmt.Errorf("opening incident directory: %w", err)
	}
	defer root.Close()
	if err := root.WriteFile(name, []byte(IncidentMarkdown(in)), 0o644); err != nil {
		return "", fmt.Errorf("writing incident report: %w", err)
	}
	return filepath.Join(dir, name), nil
}

// IncidentMarkdown renders the report: what rolled back, why, the evidence, the timeline.
func IncidentMarkdown(in rollout.Incident) string {
	s := in.Status
	var b strings.Builder
	fmt.Fprintf(&b, "# Incident: canary rollback of %s/%s\n\n", s.Namespace, s.App)
	fmt.Fprintf(&b, "- Rollout: `%s` (run `%s`)\n", in.RolloutID, in.RunID)
	fmt.Fprintf(&b, "- Stable: %s, canary: %s\n", s.Stable.Version, s.Canary.Version)
	fmt.Fprintf(&b, "- Outcome: %s\n", s.Phase)
	fmt.Fprintf(&b, "- Reason: %s\n", s.Reason)
	fmt.Fprintf(&b, "- Reached: step %d of %d (%s), weight %d%% before rollback\n\n", s.Step, s.StepCount, s.StepName, s.Weight)
	if s.Smoke != nil {
		b.WriteString("## Smoke tests\n\n| check | passed | figure |\n|---|---|---|\n")
		for _, c := range s.Smoke.Checks {
			fmt.Fprintf(&b, "| %s | %v | %s |\n", c.Name, c.Passed, c.Figure)
		}
		b.WriteString("\n")
	}
	if len(s.Measurements) > 0 {
		b.WriteString("## Measurements\n\n| at | weight | verdict | canary req/s | canary err | canary p95 | canary p99 | stable req/s | stable err | stable p95 | stable p99 | why |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, m := range s.Measurements {
			c, st := m.Sample.Canary, m.Sample.Stable
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m.At.UTC().Format(time.TimeOnly), m.Weight, m.Verdict,
				c.RequestRate.Format(1, "%.2f"), c.ErrorRate.Format(100, "%.2f%%"), c.P95.Format(1000, "%.0fms"), c.P99.Format(1000, "%.0fms"),
				st.RequestRate.Format(1, "%.2f"), st.ErrorRate.Format(100, "%.2f%%"), st.P95.Format(1000, "%.0fms"), st.P99.Format(1000, "%.0fms"),
				strings.Join(m.Reasons, "; "))
		}
		if last, ok := s.LastMeasurement(); ok && len(last.Sample.Queries) > 0 {
			b.WriteString("\nQueries of the last measurement:\n\n")
			for _, k := range slices.Sorted(maps.Keys(last.Sample.Queries)) {
				fmt.Fprintf(&b, "- %s: `%s`\n", k, last.Sample.Queries[k])
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("## Timeline\n\n")
	for _, e := range s.Events {
		by := ""
		if e.By != "" {
			by = " (by " + e.By + ")"
		}
		fmt.Fprintf(&b, "- %s %s: %s%s\n", e.At.UTC().Format(time.RFC3339), e.Kind, e.Message, by)
	}
	return b.String()
}
