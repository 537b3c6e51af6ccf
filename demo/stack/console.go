package stack

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// RuleFiles finds the project's Prometheus rules beside bin/, so a demo's
// Prometheus evaluates the same recording and alerting rules as production.
func RuleFiles(binDir string) []string {
	f := filepath.Join(filepath.Dir(binDir), "dashboards", "prometheus", "canary-rules.yml")
	if _, err := os.Stat(f); err != nil {
		return nil
	}
	return []string{f}
}

// PreferredPort returns port if it is free, else 0 (any free port), so a
// demo still runs next to a developer's own Temporal or Prometheus.
func PreferredPort(out io.Writer, port int) int {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		Say(out, fmt.Sprintf("port %d is taken: using a free one instead (see the addresses below)", port))
		return 0
	}
	_ = ln.Close()
	return port
}

// Say prints one line of a demo's narration, stamped with the time of day.
func Say(out io.Writer, msg string) {
	fmt.Fprintf(out, "%s  %s\n", time.Now().Format(time.TimeOnly), msg)
}
