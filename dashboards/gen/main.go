// Command gen writes the Grafana dashboards of package boards to
// dashboards/grafana, the JSON that people import. Run it from dashboards/
// (go generate ./dashboards/ does); a test fails when what is committed
// differs from what it writes.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/canaryflow/canaryflow/dashboards/boards"
)

func main() {
	dir := flag.String("dir", "grafana", "directory the dashboards are written to")
	flag.Parse()
	if err := write(*dir); err != nil {
		slog.Error("generating dashboards", "err", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	for _, b := range boards.All {
		out, err := boards.Render(b)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, b.File)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}
