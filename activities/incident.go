package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/canaryflow/canaryflow/incident"
	"github.com/canaryflow/canaryflow/rollout"
)

// WriteIncident writes a rollback's incident report twice, as Markdown for
// people and as JSON for tools, side by side (<name>.md and <name>.json), and
// returns the Markdown file's path. The name derives from the run, so a retry
// overwrites rather than duplicates. The IDs come from outside (whoever
// started the workflow chose its ID), so the name is escaped injectively
// (rollout.FileName: no separators, no "..", long IDs shortened by their
// hash) and the files are written through an os.Root, which refuses any path
// (or symlink) leading out of the directory.
func (a *Activities) WriteIncident(_ context.Context, in rollout.Incident) (string, error) {
	dir := a.IncidentDir
	if dir == "" {
		dir = "incidents"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating incident directory: %w", err)
	}
	base := rollout.FileName(in.RolloutID, in.RunID)
	if !filepath.IsLocal(base + ".json") {
		return "", fmt.Errorf("naming incident report for %q: %q would leave %s", in.RolloutID, base, dir)
	}
	report := incident.New(in)
	data, err := incident.JSON(report)
	if err != nil {
		return "", err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", fmt.Errorf("opening incident directory: %w", err)
	}
	defer root.Close()
	if err := root.WriteFile(base+".json", data, 0o644); err != nil {
		return "", fmt.Errorf("writing incident report as JSON: %w", err)
	}
	if err := root.WriteFile(base+".md", []byte(incident.Markdown(report)), 0o644); err != nil {
		return "", fmt.Errorf("writing incident report as Markdown: %w", err)
	}
	return filepath.Join(dir, base+".md"), nil
}
