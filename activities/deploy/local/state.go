package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// state is what survives a worker restart: which process serves a role and
// which release it was started with. One JSON file per app/namespace/role
// holds both, written atomically, so the pid and the version never disagree.
// A process is recorded here before it may serve (see start), so a crash at
// any point leaves nothing serving that this file does not name.
type state struct {
	PID int `json:"pid"`
	// StartTicks is the process start time from /proc; it tells our process
	// from a later one that reused the pid.
	StartTicks uint64    `json:"startTicks,omitempty"`
	Version    string    `json:"version"`
	Role       string    `json:"role"`
	Addr       string    `json:"addr"`
	Args       []string  `json:"args,omitempty"`
	Log        string    `json:"log"`
	StartedAt  time.Time `json:"startedAt"`
	// Strays are processes this deployer started at the role's address
	// that do not serve the role: the other half of a handover (the next
	// version until it is healthy, the previous one until it is stopped).
	// They are recorded before they may serve, so that whatever call comes
	// after a crash finds them; every Deploy and Remove stops them first.
	Strays []state `json:"strays,omitempty"`
}

// key names a role's files (state, lock, log): "<namespace>_<app>_<role>",
// each part escaped by rollout.FileName, so the mapping is injective. The
// unescaped "<namespace>-<app>-<role>" it replaces gave team-a/web and
// team/a-web one state file, and a Remove for one stopped the other's process.
func key(spec rollout.Spec, role rollout.Role) string {
	return rollout.FileName(spec.Namespace, spec.App, string(role))
}

// legacyKey is the name a worker before escaped keys used for the role's
// state, when that name can only have been this role's. It could not tell
// team-a/web from team/a-web, so a legacy name is trusted only if neither
// namespace nor app holds a dash (nor anything outside the DNS alphabet):
// then "<ns>-<app>-<role>" splits one way only. A legacy state file with a
// dash in its names is left alone: if its process still runs, Deploy refuses
// its address as taken by a process this deployer did not start, and a
// person stops it. So upgrading a worker needs no local rollouts running for
// such apps, and old and new workers must not share a StateDir at once (they
// lock different files).
func legacyKey(spec rollout.Spec, role rollout.Role) (string, bool) {
	plain := func(s string) bool {
		return s != "" && strings.IndexFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) < 0
	}
	if !plain(spec.Namespace) || !plain(spec.App) || (role != rollout.RoleStable && role != rollout.RoleCanary) {
		return "", false
	}
	return spec.Namespace + "-" + spec.App + "-" + string(role), true
}

// adoptLegacy moves the role's legacy state file, if any, to its key, so a
// worker upgraded while a local rollout runs still finds that rollout's
// processes. Call it with the role's lock held.
func (d *Deployer) adoptLegacy(spec rollout.Spec, role rollout.Role, k string) error {
	old, ok := legacyKey(spec, role)
	if !ok {
		return nil
	}
	if _, err := os.Stat(d.statePath(k)); !errors.Is(err, fs.ErrNotExist) {
		return nil // current state wins; an error shows again on load
	}
	err := os.Rename(d.statePath(old), d.statePath(k))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("adopting legacy state %s: %w", d.statePath(old), err)
	}
	d.log.Info("adopted state written by an earlier worker", "from", d.statePath(old), "to", d.statePath(k))
	return nil
}

// loadRole is load for readers that take no lock (Ready): it reads a legacy
// state file in place when the role has no current one.
func (d *Deployer) loadRole(spec rollout.Spec, role rollout.Role) (state, bool, error) {
	st, found, err := d.load(key(spec, role))
	if found || err != nil {
		return st, found, err
	}
	if old, ok := legacyKey(spec, role); ok {
		return d.load(old)
	}
	return st, false, nil
}

func (d *Deployer) statePath(k string) string { return filepath.Join(d.cfg.StateDir, k+".json") }

// load returns the recorded state; found is false when there is none.
func (d *Deployer) load(k string) (st state, found bool, err error) {
	b, err := os.ReadFile(d.statePath(k))
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, fmt.Errorf("reading state %s: %w", d.statePath(k), err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, false, fmt.Errorf("decoding state %s: %w", d.statePath(k), err)
	}
	return st, true, nil
}

// save writes the state through a rename so a crash never leaves half a file.
func (d *Deployer) save(k string, st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	tmp := d.statePath(k) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	if err := os.Rename(tmp, d.statePath(k)); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return nil
}

func (d *Deployer) drop(k string) error {
	if err := os.Remove(d.statePath(k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting state: %w", err)
	}
	return nil
}

// lock takes an exclusive flock on the role's lock file. A flock conflicts
// between open files even in one process, so it serialises calls within a
// worker and between two workers sharing the StateDir alike.
func (d *Deployer) lock(ctx context.Context, k string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(d.cfg.StateDir, k+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waiting for lock on %s: %w", f.Name(), ctx.Err())
		case <-tick.C:
		}
	}
}
