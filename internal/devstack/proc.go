//go:build unix

package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is one child: started in its own process group, reaped by a
// goroutine from the moment it starts (so it never lingers as a zombie, and
// an early exit is noticed while waiting for readiness), with the tail of
// its output kept for error messages.
type process struct {
	name string
	cmd  *exec.Cmd
	tail *tailBuffer

	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // valid after done is closed

	stopOnce sync.Once
}

// startProcess runs path with args, sending its stdout and stderr to log
// (which may be nil) and to the kept tail. The process runs until stop, or
// until this process dies (on Linux).
func startProcess(name, path string, args []string, log io.Writer) (*process, error) {
	tail := newTailBuffer(16 << 10)
	var out io.Writer = tail
	if log != nil {
		out = io.MultiWriter(tail, log)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	// A grandchild holding the output pipe must not block reaping forever.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", name, path, err)
	}
	p := &process{name: name, cmd: cmd, tail: tail, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	slog.Debug("devstack: started", "server", name, "pid", cmd.Process.Pid, "args", args)
	return p, nil
}

// exited reports, without blocking, whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes an exit that happened before Stop asked for it.
func (p *process) exitError() error {
	return fmt.Errorf("%s exited unexpectedly (%w); last output:\n%s", p.name, p.waitErr, p.tail.String())
}

// stop sends SIGTERM to the whole process group, escalates to SIGKILL after
// grace, and returns once the process is reaped. It returns an error only
// when the process had already died on its own, which callers should treat
// as a crash. Calling it again returns nil.
func (p *process) stop(grace time.Duration) error {
	var err error
	p.stopOnce.Do(func() {
		if p.exited() {
			err = p.exitError()
			return
		}
		pgid := p.cmd.Process.Pid // Setpgid made the child its group's leader.
		if kerr := syscall.Kill(-pgid, syscall.SIGTERM); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			slog.Warn("devstack: SIGTERM failed", "server", p.name, "pgid", pgid, "err", kerr)
		}
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-p.done:
		case <-timer.C:
			slog.Warn("devstack: server ignored SIGTERM, killing", "server", p.name, "grace", grace)
			if kerr := syscall.Kill(-pgid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
				slog.Warn("devstack: SIGKILL failed", "server", p.name, "pgid", pgid, "err", kerr)
			}
			<-p.done
		}
		slog.Debug("devstack: stopped", "server", p.name, "pid", pgid)
	})
	return err
}

// kill SIGKILLs the whole process group at once, as a crash would, and
// returns once the process is reaped; a later stop is a no-op.
func (p *process) kill() {
	p.stopOnce.Do(func() {
		if kerr := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			slog.Warn("devstack: SIGKILL failed", "server", p.name, "pgid", p.cmd.Process.Pid, "err", kerr)
		}
		<-p.done
	})
}

// tailBuffer keeps the last max bytes written to it; it is safe for
// concurrent use because output is copied by exec's goroutine while errors
// are built on the caller's.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

// Write keeps the newest bytes, dropping the oldest beyond max.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept output.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// waitUntil polls probe every interval until it succeeds, the process dies
// (its exit and output are the error), or ctx ends (with the last probe error).
func (p *process) waitUntil(ctx context.Context, what string, every time.Duration, probe func(context.Context) error) error {
	for {
		last := probe(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("waiting for %s: %w", what, p.exitError())
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s (last error: %v); last output:\n%s: %w", what, last, p.tail.String(), ctx.Err())
		case <-time.After(every):
		}
	}
}

// failedStart stops a server that did not become ready and says why; a
// port taken between choosing and binding it becomes a *portError, which
// the callers retry on fresh ports.
func (p *process) failedStart(err error) error {
	_ = p.stop(time.Second)
	if addrInUse(p.tail.String()) {
		return &portError{err: err}
	}
	return err
}
