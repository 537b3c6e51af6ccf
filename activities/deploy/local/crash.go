package local

import (
	"context"
	"fmt"
)

// A worker can die between any two steps of Deploy or Remove, and Temporal
// then retries the activity on a worker that knows only the state files.
// The steps are ordered so that every such retry converges on exactly one
// tracked process per role at the desired version:
//
//   - a process is started held and recorded before it may serve (start);
//     one that is never recorded exits on its own when the pipe closes;
//   - the other half of a handover is recorded as a stray before it may
//     serve, and stays one until it alone serves the role;
//   - every call first settles the state: it stops strays and a recorded
//     process still waiting for a go-ahead nobody will send.

// crashPoint names a place where a worker may die mid-call. Tests stop there
// (crashAt) to prove that the call after it converges.
type crashPoint string

const (
	crashAfterStart        crashPoint = "after-start"         // started held, not recorded
	crashAfterRecord       crashPoint = "after-record"        // recorded, not released
	crashAfterRelease      crashPoint = "after-release"       // released, may be serving
	crashAfterHealthy      crashPoint = "after-healthy"       // handover: next answers, still a stray
	crashAfterSwap         crashPoint = "after-swap"          // handover: next serves the role, previous a stray
	crashAfterStopPrevious crashPoint = "after-stop-previous" // handover or replacement: previous stopped, state not updated
	crashAfterRemoveStop   crashPoint = "after-remove-stop"   // Remove: stopped, state not dropped
)

// at returns the error crashAt injects at p; callers return it at once,
// running no cleanup a dying worker would not run either.
func (d *Deployer) at(p crashPoint) error {
	if d.crashAt == nil {
		return nil
	}
	return d.crashAt(p)
}

// settle loads the role's state and stops what a crashed call left: strays,
// and a recorded process that still waits for its go-ahead. It returns the
// state of the process that serves the role; found is false when none is
// recorded any more. Call it with the role's lock held.
func (d *Deployer) settle(ctx context.Context, k string) (state, bool, error) {
	st, found, err := d.load(k)
	if err != nil || !found {
		return st, found, err
	}
	orphan := held(st)
	if len(st.Strays) == 0 && !orphan {
		return st, true, nil
	}
	for _, s := range st.Strays {
		d.log.Info("stopping a process an interrupted call left", "pid", s.PID, "version", s.Version, "role", s.Role)
		if err := d.stop(ctx, s); err != nil {
			return state{}, false, fmt.Errorf("stopping pid %d left by an interrupted call: %w", s.PID, err)
		}
	}
	st.Strays = nil
	if orphan {
		d.log.Info("stopping a process that never got its go-ahead", "pid", st.PID, "version", st.Version, "role", st.Role)
		if err := d.stop(ctx, st); err != nil {
			return state{}, false, fmt.Errorf("stopping pid %d left by an interrupted call: %w", st.PID, err)
		}
		return state{}, false, d.drop(k)
	}
	return st, true, d.save(k, st)
}
