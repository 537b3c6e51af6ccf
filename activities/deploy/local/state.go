package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// state is what survives a worker restart: which process serves a role and
// which release it was started with. One JSON file per app/namespace/role
// holds both, written atomically, so the pid and the version never disagree.
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
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// key names a role's files: <namespace>-<app>-<role>.
func key(spec rollout.Spec, role rollout.Role) string {
	ns := spec.Namespace
	if ns == "" {
		ns = "default"
	}
	return unsafeChars.ReplaceAllString(ns+"-"+spec.App+"-"+string(role), "_")
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
