package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat is what /proc/<pid>/stat tells about a process.
type procStat struct {
	state      byte
	startTicks uint64
}

var errNoProcfs = errors.New("no /proc")

// readProcStat parses /proc/<pid>/stat. The command name may hold spaces
// and parentheses, so fields are counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		if _, serr := os.Stat("/proc/self/stat"); serr != nil {
			return procStat{}, errNoProcfs
		}
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat: no ')'", pid)
	}
	// After ')': field 3 (state) is f[0], field 22 (starttime) is f[19].
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat: %d fields", pid, len(f))
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parsing /proc/%d/stat starttime: %w", pid, err)
	}
	return procStat{state: f[0][0], startTicks: start}, nil
}

// alive reports whether the process st recorded still runs. A zombie counts
// as gone (it no longer serves), and so does a pid reused by a process that
// started at another time.
func alive(st state) bool {
	if st.PID <= 0 {
		return false
	}
	ps, err := readProcStat(st.PID)
	switch {
	case err == nil:
		if ps.state == 'Z' || ps.state == 'X' {
			return false
		}
		return st.StartTicks == 0 || st.StartTicks == ps.startTicks
	case errors.Is(err, errNoProcfs):
		err := syscall.Kill(st.PID, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	default:
		return false
	}
}

// holdScript runs in /bin/sh in front of the binary. It waits on fd 3 for
// the deployer's go-ahead, which the deployer sends only once the pid is
// recorded. If the deployer dies first, the kernel closes the pipe unread and
// the process exits without ever listening, so a crash can never leave an
// untracked server on the role's address. exec keeps the pid and its start
// time, so what was recorded for the shell holds for the binary.
const holdScript = `: canaryflow-hold; IFS= read -r ok <&3 && [ "$ok" = go ] || ` +
	`{ echo "canaryflow: not started: the deployer stopped before recording this process" >&2; exit 75; }; ` +
	`exec 3<&-; exec "$0" "$@"`

// shell runs holdScript; a fixed path, since PATH is the user's.
const shell = "/bin/sh"

// hold is the deployer's end of a started process's go-ahead pipe.
type hold struct{ w *os.File }

// release lets the held process run the binary.
func (h *hold) release() error {
	if h.w == nil {
		return errors.New("releasing a process: already released or cancelled")
	}
	_, err := h.w.Write([]byte("go\n"))
	cerr := h.w.Close()
	h.w = nil
	if err = errors.Join(err, cerr); err != nil {
		return fmt.Errorf("releasing a process: %w", err)
	}
	return nil
}

// cancel makes a process not yet released exit without serving, as a crash
// of this worker would; after release it does nothing, so it can be deferred.
func (h *hold) cancel() {
	if h.w != nil {
		_ = h.w.Close()
		h.w = nil
	}
}

// start runs the demo binary detached and held (see holdScript): its own
// process group (a Ctrl-C or SIGTERM to the worker's group does not reach
// it), stdin from /dev/null, output appended to logPath. The caller records
// the returned state, then calls release, and defers cancel. A goroutine
// waits on the process so it never lingers as a zombie while this worker
// lives; after a worker restart init reaps it.
func (d *Deployer) start(args []string, logPath string) (state, *hold, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return state{}, nil, fmt.Errorf("opening log %s: %w", logPath, err)
	}
	defer f.Close()
	fmt.Fprintf(f, "--- %s canaryflow starting %s %s\n", time.Now().Format(time.RFC3339), d.cfg.Binary, strings.Join(args, " "))

	r, w, err := os.Pipe()
	if err != nil {
		return state{}, nil, fmt.Errorf("creating the go-ahead pipe: %w", err)
	}
	defer r.Close()
	// Not CommandContext: the process must outlive the activity that started it.
	cmd := exec.Command(shell, append([]string{"-c", holdScript, d.cfg.Binary}, args...)...)
	cmd.Stdin = nil
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.ExtraFiles = []*os.File{r}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = w.Close()
		return state{}, nil, fmt.Errorf("starting %s: %w", d.cfg.Binary, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	d.children.Store(pid, exited)
	go func() {
		_ = cmd.Wait()
		close(exited)
		d.children.Delete(pid)
	}()
	st := state{PID: pid, Log: logPath, StartedAt: time.Now().UTC()}
	if ps, err := readProcStat(pid); err == nil {
		st.StartTicks = ps.startTicks
	}
	return st, &hold{w: w}, nil
}

// held reports whether the recorded process still waits for its go-ahead.
// Under the role's lock no call that could release it is running, so such
// a process was left by a call that crashed: it will never serve.
func held(st state) bool {
	if !alive(st) {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(st.PID), "cmdline"))
	if err != nil {
		return false
	}
	if len(b) == 0 {
		// A process that is exiting has released its memory and shows no
		// command line before it turns zombie: a held wrapper whose pipe
		// closed, caught mid-exit. It will never serve; taking it for a
		// starting server would leave the role with nothing (seen in CI).
		return true
	}
	argv := strings.Split(string(b), "\x00")
	return len(argv) > 2 && argv[0] == shell && argv[1] == "-c" && argv[2] == holdScript
}

// stop sends SIGTERM to the process group, and SIGKILL if it is still there
// after the grace period (or at once if ctx ends first).
func (d *Deployer) stop(ctx context.Context, st state) error {
	if !alive(st) {
		return nil
	}
	if err := signalGroup(st.PID, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping pid %d: %w", st.PID, err)
	}
	if d.waitExit(ctx, st, d.cfg.StopGrace) {
		return nil
	}
	if err := signalGroup(st.PID, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing pid %d: %w", st.PID, err)
	}
	if d.waitExit(context.WithoutCancel(ctx), st, 5*time.Second) {
		if ctx.Err() != nil {
			return fmt.Errorf("stopping pid %d: killed without grace: %w", st.PID, ctx.Err())
		}
		return nil
	}
	return fmt.Errorf("pid %d still running after SIGKILL", st.PID)
}

// signalGroup signals the process group the child leads (so anything it
// spawned goes too), falling back to the process alone if it left the group.
func signalGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		err = syscall.Kill(pid, sig)
	}
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// waitExit waits up to within for the process to be gone.
func (d *Deployer) waitExit(ctx context.Context, st state, within time.Duration) bool {
	var exited chan struct{}
	if c, ok := d.children.Load(st.PID); ok {
		exited = c.(chan struct{})
	}
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for alive(st) {
		select {
		case <-exited:
			return true
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	return true
}

// logTail returns the log's last non-empty line, which is usually why a
// process exited (a port already in use, a bad flag).
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > 4096 {
		_, _ = f.Seek(-4096, io.SeekEnd)
	}
	b, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, fs.ErrClosed) {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
