package latency

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/demo/stack"
	"github.com/canaryflow/canaryflow/rollout"
)

var (
	overheadRuns = flag.Int("overhead-runs", 3, "promoted rollouts the orchestration overhead is taken over")
	overheadHold = flag.Duration("overhead-hold", 20*time.Second, "hold at each of the three weights (the demo's is 20s)")
)

// referenceHolds is the reference plan's sum of holds (15 + 10 + 15 min):
// orchestration's cost is per rollout, not per second held, so its share
// of a real plan is the same seconds over these.
const referenceHolds = 40 * time.Minute

// BenchmarkOrchestrationOverhead promotes a healthy canary through the
// demo's plan (10 → 25 → 50 %, each held -overhead-hold) and compares the
// rollout's wall time with the sum of its holds, cut into stages by when
// the router accepted each weight.
func BenchmarkOrchestrationOverhead(b *testing.B) {
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*overheadRuns)*(5*time.Minute+6**overheadHold))
		defer cancel()
		app, err := engine.StartApp(ctx, stack.AppOptions{Name: "overhead", Hold: *overheadHold})
		require.NoError(b, err)
		defer app.Stop()
		tap, err := startTap(app.AdminURL)
		require.NoError(b, err)
		defer tap.close()
		holds := 3 * *overheadHold

		fmt.Printf("\norchestration overhead: wall time − holds (3 × %s = %s), seconds\n", *overheadHold, holds)
		fmt.Printf("%4s %8s %9s %8s %8s %10s %8s %7s %9s  %s\n", "run", "wall", "overhead", "to-10%", "drift", "final+prom", "cleanup", "%holds", "%ref-plan", "load")
		var over []time.Duration
		for i := range *overheadRuns {
			o, err := overheadOnce(ctx, app, tap, *overheadHold)
			require.NoError(b, err, "run %d", i+1)
			over = append(over, o.wall-holds)
			fmt.Printf("%4d %8s %9s %8s %8s %10s %8s %6.2f%% %8.3f%%  %.2f\n", i+1, secs(o.wall), secs(o.wall-holds), secs(o.toFirst),
				secs(o.drift), secs(o.finalAndPromote), secs(o.cleanup), 100*(o.wall-holds).Seconds()/holds.Seconds(),
				100*(o.wall-holds).Seconds()/referenceHolds.Seconds(), loadAverage())
		}
		p50 := quantile(over, 0.5)
		fmt.Printf("overhead p50 %ss: %.2f%% of the demo's %s of holds, %.3f%% of the reference plan's %s\n",
			secs(p50), 100*p50.Seconds()/holds.Seconds(), holds, 100*p50.Seconds()/referenceHolds.Seconds(), referenceHolds)
		b.ReportMetric(p50.Seconds(), "s-overhead-p50")
		b.ReportMetric(100*p50.Seconds()/holds.Seconds(), "pct-of-holds")
		b.ReportMetric(100*p50.Seconds()/referenceHolds.Seconds(), "pct-of-reference-plan")
	}
}

// overhead is one promoted rollout's wall time and where the time beyond
// its holds went.
type overhead struct {
	wall time.Duration
	// toFirst: start → the router accepts 10 % (preflight, deploy, ready, smoke).
	toFirst time.Duration
	// drift: how much longer the weight steps took than their holds.
	drift time.Duration
	// finalAndPromote: end of the last hold → the router accepts weight 0
	// for the promoted stable (final measurement, stable upgraded and ready).
	finalAndPromote time.Duration
	// cleanup: → the workflow completes (canary removed, people told).
	cleanup time.Duration
}

func overheadOnce(ctx context.Context, app *stack.App, tap *weightTap, hold time.Duration) (overhead, error) {
	spec := app.Spec
	spec.Traffic.Local = &rollout.LocalTraffic{AdminURL: tap.url}
	started := time.Now()
	run, err := control.Start(ctx, engine.Client, spec, "bench-latency")
	if err != nil {
		return overhead{}, fmt.Errorf("starting the rollout: %w", err)
	}
	res, err := control.Wait(ctx, engine.Client, run.GetID())
	if err != nil {
		return overhead{}, fmt.Errorf("waiting for the rollout: %w", err)
	}
	ended := time.Now()
	if res.Phase != rollout.PhasePromoted {
		return overhead{}, fmt.Errorf("a healthy canary ended %s: %s", res.Phase, res.Reason)
	}
	var at [4]time.Time
	since := started
	for i, w := range []int{10, 25, 50, 0} {
		if at[i], err = tap.awaitPut(ctx, w, since); err != nil {
			return overhead{}, err
		}
		since = at[i]
	}
	return overhead{
		wall:            ended.Sub(started),
		toFirst:         at[0].Sub(started),
		drift:           at[2].Sub(at[0]) - 2*hold,
		finalAndPromote: at[3].Sub(at[2]) - hold,
		cleanup:         ended.Sub(at[3]),
	}, nil
}
