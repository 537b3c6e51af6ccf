// Package local is the Deployer that runs each role of the demo app as a
// process on this machine, for `make demo` and end-to-end tests without a
// cluster. It keeps a state file per app/namespace/role so that calls are
// idempotent and a restarted worker finds the processes it started before;
// a process is recorded there before it may serve, so a worker that dies
// mid-call leaves nothing the next call cannot find (crash.go).
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// Config says which binary to run and where to keep state and logs.
type Config struct {
	// Binary is the demoapp executable (a path, or a name on PATH).
	Binary string
	// StateDir holds one state file per role; keep it across worker restarts.
	StateDir string
	// LogDir receives <namespace>_<app>_<role>.log (see key).
	LogDir string
	// StopGrace is how long a process may take to exit after SIGTERM before
	// SIGKILL; zero means 10 s.
	StopGrace time.Duration
	// StartGrace is how long a process that does not answer /health yet is
	// left to start before a same-version Deploy replaces it; zero means 15 s.
	StartGrace time.Duration
	// HTTP probes /health; nil means a client with a 2 s timeout.
	HTTP *http.Client
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Deployer runs roles as local processes. It implements activities.Deployer.
type Deployer struct {
	cfg Config
	log *slog.Logger
	// children maps the pid of each process this Deployer started to a
	// channel closed when it exits, so stop can wait without polling.
	children sync.Map
	// crashAt, when set (by tests), may stop a call at a crashPoint as if
	// the worker died there.
	crashAt func(crashPoint) error
}

// New checks cfg, resolves the binary and creates the directories.
func New(cfg Config) (*Deployer, error) {
	if cfg.Binary == "" {
		return nil, errors.New("local deployer: Binary (the demoapp executable) must be set")
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("local deployer: finding binary: %w", err)
	}
	if cfg.Binary, err = filepath.Abs(bin); err != nil {
		return nil, fmt.Errorf("local deployer: resolving binary: %w", err)
	}
	if cfg.StateDir == "" || cfg.LogDir == "" {
		return nil, errors.New("local deployer: StateDir and LogDir must be set")
	}
	for _, dir := range []string{cfg.StateDir, cfg.LogDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("local deployer: creating %s: %w", dir, err)
		}
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 10 * time.Second
	}
	if cfg.StartGrace == 0 {
		cfg.StartGrace = 15 * time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 2 * time.Second}
	}
	d := &Deployer{cfg: cfg, log: cfg.Logger}
	if d.log == nil {
		d.log = slog.Default()
	}
	return d, nil
}

// Deploy makes role run rel at the role's address. The same release already
// serving is left alone, so a retried or replayed activity does not restart
// it; anything else we started there is stopped and replaced.
func (d *Deployer) Deploy(ctx context.Context, spec rollout.Spec, role rollout.Role, rel rollout.Release) error {
	addr, err := roleAddr(spec, role)
	if err != nil {
		return err
	}
	if rel.Version == "" {
		return fmt.Errorf("%w: release version is empty", rollout.ErrPermanent)
	}
	k := key(spec, role)
	unlock, err := d.lock(ctx, k)
	if err != nil {
		return err
	}
	defer unlock()
	if err := d.adoptLegacy(spec, role, k); err != nil {
		return err
	}
	log := d.log.With("role", role, "version", rel.Version, "addr", addr)

	args := []string{"--addr", addr, "--version", rel.Version, "--role", string(role)}
	args = append(args, spec.Deploy.Local.Args...)

	st, found, err := d.settle(ctx, k)
	if err != nil {
		return err
	}
	if found && alive(st) {
		if st.Version == rel.Version && slices.Equal(st.Args, args) {
			h, herr := d.health(ctx, addr)
			if herr == nil && h.Version == rel.Version {
				log.Info("already running", "pid", st.PID)
				return nil
			}
			if herr != nil && time.Since(st.StartedAt) < d.cfg.StartGrace {
				log.Info("already starting", "pid", st.PID)
				return nil
			}
		}
		if st.Version != rel.Version {
			return d.handover(ctx, k, addr, st, args, rel, log)
		}
		log.Info("stopping previous process", "pid", st.PID, "was", st.Version)
		if err := d.stop(ctx, st); err != nil {
			return fmt.Errorf("replacing %s %s: %w", role, st.Version, err)
		}
		if err := d.at(crashAfterStopPrevious); err != nil {
			return err
		}
	}
	if found {
		if err := d.drop(k); err != nil {
			return err
		}
	}
	if err := d.checkFree(ctx, addr); err != nil {
		return err
	}

	logPath := filepath.Join(d.cfg.LogDir, k+".log")
	st, h, err := d.start(args, logPath)
	if err != nil {
		return err
	}
	defer h.cancel()
	if err := d.at(crashAfterStart); err != nil {
		return err
	}
	st.Version, st.Role, st.Addr, st.Args = rel.Version, string(role), addr, args
	if err := d.save(k, st); err != nil {
		// Unrecorded, it must never serve: cancel (deferred) makes it exit.
		return err
	}
	if err := d.at(crashAfterRecord); err != nil {
		return err
	}
	if err := h.release(); err != nil {
		// It died before reading the go-ahead; Ready reports it, a retry replaces it.
		return fmt.Errorf("starting %s %s: %w", role, rel.Version, err)
	}
	if err := d.at(crashAfterRelease); err != nil {
		return err
	}
	log.Info("started", "pid", st.PID, "log", logPath)
	return nil
}

// Ready reports whether the role's process is running and its /health
// reports the version last deployed; detail says what was seen instead.
func (d *Deployer) Ready(ctx context.Context, spec rollout.Spec, role rollout.Role) (bool, string, error) {
	st, found, err := d.loadRole(spec, role)
	if err != nil {
		return false, "", err
	}
	if !found {
		return false, fmt.Sprintf("%s is not deployed (no state in %s)", role, d.cfg.StateDir), nil
	}
	if !alive(st) {
		detail := fmt.Sprintf("pid %d (%s %s) is not running; see %s", st.PID, role, st.Version, st.Log)
		if last := logTail(st.Log); last != "" {
			detail += ": " + last
		}
		return false, detail, nil
	}
	h, err := d.health(ctx, st.Addr)
	if err != nil {
		return false, fmt.Sprintf("pid %d runs but %s/health does not answer yet: %v", st.PID, st.Addr, err), nil
	}
	if h.Version != st.Version || h.Role != string(role) {
		return false, fmt.Sprintf("%s/health reports version %q role %q, want %q role %q", st.Addr, h.Version, h.Role, st.Version, role), nil
	}
	return true, fmt.Sprintf("pid %d serves %s as %s on %s", st.PID, st.Version, role, st.Addr), nil
}

// Remove stops the role's processes and forgets them; nothing there is success.
func (d *Deployer) Remove(ctx context.Context, spec rollout.Spec, role rollout.Role) error {
	k := key(spec, role)
	unlock, err := d.lock(ctx, k)
	if err != nil {
		return err
	}
	defer unlock()
	if err := d.adoptLegacy(spec, role, k); err != nil {
		return err
	}
	st, found, err := d.settle(ctx, k)
	if err != nil || !found {
		return err
	}
	if err := d.stop(ctx, st); err != nil {
		return fmt.Errorf("removing %s %s: %w", role, st.Version, err)
	}
	if err := d.at(crashAfterRemoveStop); err != nil {
		return err
	}
	d.log.Info("removed", "role", role, "version", st.Version, "pid", st.PID)
	return d.drop(k)
}

func roleAddr(spec rollout.Spec, role rollout.Role) (string, error) {
	l := spec.Deploy.Local
	if l == nil {
		return "", fmt.Errorf("%w: deploy.local must be set for the local deployer", rollout.ErrPermanent)
	}
	var addr string
	switch role {
	case rollout.RoleStable:
		addr = l.StableAddr
	case rollout.RoleCanary:
		addr = l.CanaryAddr
	default:
		return "", fmt.Errorf("%w: unknown role %q (want stable or canary)", rollout.ErrPermanent, role)
	}
	if addr == "" {
		return "", fmt.Errorf("%w: deploy.local.%sAddr must be set", rollout.ErrPermanent, role)
	}
	return addr, nil
}

// healthReport is the demo app's /health body.
type healthReport struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Role    string `json:"role"`
}

func (d *Deployer) health(ctx context.Context, addr string) (healthReport, error) {
	return healthOf(ctx, d.cfg.HTTP, addr)
}

func healthOf(ctx context.Context, hc *http.Client, addr string) (healthReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
	if err != nil {
		return healthReport{}, fmt.Errorf("building health request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return healthReport{}, fmt.Errorf("probing health: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return healthReport{}, fmt.Errorf("reading health: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return healthReport{}, fmt.Errorf("health answered %s", resp.Status)
	}
	var h healthReport
	if err := json.Unmarshal(body, &h); err != nil {
		return healthReport{}, fmt.Errorf("decoding health: %w", err)
	}
	return h, nil
}

// checkFree fails permanently when addr is taken by a process we did not
// start: deploying there would report someone else's server as ours.
func (d *Deployer) checkFree(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err == nil {
		return ln.Close()
	}
	if h, herr := d.health(ctx, addr); herr == nil {
		return fmt.Errorf("%w: %s is already served by a process this deployer did not start (its /health reports version %q role %q); stop it or choose another address",
			rollout.ErrPermanent, addr, h.Version, h.Role)
	}
	return fmt.Errorf("%w: %s is in use by another process: %w", rollout.ErrPermanent, addr, err)
}
