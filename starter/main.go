// Command starter starts and steers canary rollouts: it plans and starts one
// from a spec file, follows it live, reads its status, history and incident
// report, lists rollouts, and approves, aborts, promotes, pauses or resumes
// one. It talks to Temporal with the standard TEMPORAL_* environment; every
// command, flag, help page and shell completion comes from one cobra tree.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
