//go:build unix

package devstack

import (
	"context"
	"io"
	"net/http"
	"syscall"
	"time"
)

// Process is any other child a demo or test runs (the router, the worker),
// with the same guarantees as the servers: own process group, reaped, its
// output's tail kept, and a Stop that kills the whole group.
type Process struct{ p *process }

// StartProcess runs path with args; log (may be nil) receives its output.
func StartProcess(name, path string, args []string, log io.Writer) (*Process, error) {
	p, err := startProcess(name, path, args, log)
	if err != nil {
		return nil, err
	}
	return &Process{p: p}, nil
}

// Pid is the child's process ID (also its process group ID).
func (p *Process) Pid() int { return p.p.cmd.Process.Pid }

// Exited reports, without blocking, whether the process has ended.
func (p *Process) Exited() bool { return p.p.exited() }

// LogTail returns the process's most recent output.
func (p *Process) LogTail() string { return p.p.tail.String() }

// Stop terminates the process group (SIGTERM, then SIGKILL after 5 s). It
// returns an error if the process had died on its own before.
func (p *Process) Stop() error { return p.p.stop(5 * time.Second) }

// Kill SIGKILLs the process group at once, as a crash or an OOM kill would,
// and waits until it is reaped.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.p.done
}

// WaitHTTP polls url until it answers 200, the process dies, or ctx ends.
func (p *Process) WaitHTTP(ctx context.Context, url string) error {
	hc := &http.Client{Timeout: time.Second}
	return p.p.waitUntil(ctx, p.p.name+" at "+url, 100*time.Millisecond, func(ctx context.Context) error {
		return probeReady(ctx, hc, url)
	})
}
