package e2e

import (
	"cmp"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/demo/stack"
	"github.com/canaryflow/canaryflow/rollout"
)

// killCase is one phase the worker is killed in: how the rollout is pinned
// there (so the kill lands in it whatever the machine's speed), how to tell
// it is there, and what lets it go after the worker is back.
type killCase struct {
	phase string
	// late cases start once the early ones are pinned, so they reach their
	// phase just before the kill: it lasts seconds (a hold, a gate) or can
	// be held only so long (a weight change is tried five times, each
	// ending at the router client's 10 s timeout). Promoting holds a weight
	// change too, but is early: it takes longest to reach.
	late  bool
	steps []rollout.Step
	pin   func(f *faultApp)
	there func(f *faultApp, s rollout.Status) bool
	// resume runs once the worker is back: open the gate, approve.
	resume func(ctx context.Context, t *testing.T, f *faultApp)
	// stable is the version stable serves while the worker is down: v1,
	// but v2 once promoting has replaced it (the traffic switch is held).
	stable string
}

// plan is every case's plan but for the step under test: 10 % then 50 %.
func plan(second rollout.Step) []rollout.Step {
	return []rollout.Step{rollout.Weight(10), second, rollout.Weight(50), rollout.Hold(3 * time.Second)}
}

var killCases = []killCase{{
	// Deploying begins by making sure the router sends the canary nothing:
	// that first weight change is held, so the kill lands mid-activity.
	phase: "deploying", late: true, steps: plan(rollout.Hold(3 * time.Second)),
	pin: func(f *faultApp) {
		f.admin.holdWhen(func(w int, accepted []int) bool { return w == 0 && len(accepted) == 0 })
	},
	there: func(f *faultApp, s rollout.Status) bool {
		return s.Phase == rollout.PhaseDeploying && f.admin.isHolding()
	},
	resume: func(_ context.Context, _ *testing.T, f *faultApp) { f.admin.release() },
}, {
	phase: "smoke testing", late: true, steps: plan(rollout.Hold(3 * time.Second)),
	pin: func(f *faultApp) { f.smoke.close() },
	there: func(f *faultApp, s rollout.Status) bool {
		return s.Phase == rollout.PhaseSmokeTesting && f.smoke.isHolding()
	},
	resume: func(_ context.Context, _ *testing.T, f *faultApp) { f.smoke.open() },
}, {
	phase: "hold", late: true, steps: plan(rollout.Hold(20 * time.Second)),
	pin: func(*faultApp) {},
	there: func(_ *faultApp, s rollout.Status) bool {
		return s.Phase == rollout.PhaseProgressing && s.Step == 2
	},
	resume: func(context.Context, *testing.T, *faultApp) {},
}, {
	phase: "analysis gate", late: true, steps: plan(rollout.Gate(8)),
	pin: func(*faultApp) {},
	there: func(_ *faultApp, s rollout.Status) bool {
		return s.Phase == rollout.PhaseProgressing && s.Step == 2
	},
	resume: func(context.Context, *testing.T, *faultApp) {},
}, {
	phase: "approval wait", steps: plan(rollout.ApprovalGate(0, "")),
	pin: func(*faultApp) {},
	there: func(_ *faultApp, s rollout.Status) bool {
		return s.Phase == rollout.PhaseAwaitApproval
	},
	resume: func(ctx context.Context, t *testing.T, f *faultApp) {
		answer, err := control.Act(ctx, f.eng.Client, f.id, rollout.SignalApprove, rollout.Approval{By: "e2e"})
		require.NoError(t, err, "approving after the worker came back")
		assert.Contains(t, answer, "step 2 approved by e2e")
	},
}, {
	// Promoting ends by moving all traffic to the promoted stable: that
	// weight change (0 after the canary had traffic) is held.
	phase: "promoting", steps: plan(rollout.Hold(3 * time.Second)),
	pin: func(f *faultApp) {
		f.admin.holdWhen(func(w int, accepted []int) bool { return w == 0 && len(accepted) > 0 })
	},
	there: func(f *faultApp, s rollout.Status) bool {
		return s.Phase == rollout.PhasePromoting && f.admin.isHolding()
	},
	resume: func(_ context.Context, _ *testing.T, f *faultApp) { f.admin.release() },
	stable: "v2",
}}

// TestWorkerKilledInEachPhaseStillPromotes SIGKILLs the real worker process
// once, while six rollouts on its engine are each pinned in another phase
// (deploying, smoke testing, a hold, an analysis gate, the approval wait,
// promoting), and starts it again. Every rollout ends as an undisturbed one
// would: Promoted, each weight set once in order on the router, stable
// serving the canary's version, the canary gone. Activities in flight at the
// kill are retried once their timeouts notice the dead worker (30 s).
//
// The rollouts run side by side on the server; the subtests only wait for
// them (parallel subtests would queue behind -parallel, 2 on this machine).
func TestWorkerKilledInEachPhaseStillPromotes(t *testing.T) {
	t.Parallel()
	eng := faultEngine(t, "worker-kill")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opts := make([]stack.AppOptions, len(killCases))
	for i, c := range killCases {
		opts[i] = stack.AppOptions{Name: "kill-" + strings.ReplaceAll(c.phase, " ", "-"), Steps: c.steps}
	}
	apps := startFaultApps(ctx, t, eng, opts...)
	for i, c := range killCases {
		c.pin(apps[i])
	}

	pin := func(cases []int) (ok []int) {
		for _, i := range cases {
			require.NoError(t, apps[i].launch(ctx))
		}
		for _, i := range cases {
			c, f := killCases[i], apps[i]
			if t.Run("pinned in "+c.phase, func(t *testing.T) {
				f.watch(t)
				f.waitFor(ctx, t, "pinned in "+c.phase, func(s rollout.Status) bool { return c.there(f, s) })
			}) {
				ok = append(ok, i)
			}
		}
		return ok
	}
	var early, late []int
	for i, c := range killCases {
		if c.late {
			late = append(late, i)
		} else {
			early = append(early, i)
		}
	}
	pinned := append(pin(early), pin(late)...)

	// The last look before the kill: each rollout must still be where it
	// was pinned, or the kill would not test its phase.
	for _, i := range pinned {
		s, err := control.Status(ctx, eng.Client, apps[i].id)
		require.NoError(t, err)
		require.True(t, killCases[i].there(apps[i], s), "%s moved on from %s before the kill; status:\n%s",
			apps[i].id, killCases[i].phase, control.FormatStatus(s))
	}
	eng.KillWorker()
	t.Logf("worker killed with SIGKILL; %d of %d rollouts pinned", len(pinned), len(killCases))
	time.Sleep(2 * time.Second)
	for _, i := range pinned {
		want := "200 " + cmp.Or(killCases[i].stable, "v1")
		assert.Equal(t, want, servedVersion(t, apps[i].App, "never"), "%s: stable keeps serving while no worker runs", apps[i].id)
	}
	require.NoError(t, eng.StartWorker(), "starting the worker again")

	for _, i := range pinned {
		c, f := killCases[i], apps[i]
		t.Run("resumed after a kill in "+c.phase, func(t *testing.T) {
			f.watch(t)
			c.resume(ctx, t, f)
		})
	}
	for _, i := range pinned {
		c, f := killCases[i], apps[i]
		t.Run("promoted after a kill in "+c.phase, func(t *testing.T) {
			f.watch(t)
			res, s := f.finish(ctx, t)
			f.requireUndisturbedPromotion(ctx, t, res, s, 0, 10, 50, 0)
			assert.True(t, s.Smoke != nil && s.Smoke.Passed(), "the smoke tests passed")
		})
	}
}
