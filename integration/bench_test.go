package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/rollout"
)

// BenchmarkAbortToWeightZero measures how fast a rollback takes traffic off
// the canary through a real Temporal server and worker: from the abort signal
// being sent to the router reporting weight 0 (in-memory router, so what is
// measured is the engine, not a network hop).
func BenchmarkAbortToWeightZero(b *testing.B) {
	e := startEngine(b)
	e.startWorker(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		spec := quickSpec(fmt.Sprintf("bench-%d", i))
		spec.Steps = []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, "")}
		run, err := control.Start(ctx, e.c, spec, "bench")
		require.NoError(b, err)
		require.Eventually(b, func() bool {
			w, _ := e.router.Weight(ctx, spec)
			return w == 10
		}, 30*time.Second, time.Millisecond)

		b.StartTimer()
		start := time.Now()
		require.NoError(b, control.Signal(ctx, e.c, run.GetID(), rollout.SignalAbort, rollout.Abort{By: "bench"}))
		for {
			if w, _ := e.router.Weight(ctx, spec); w == 0 {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		total += time.Since(start)
		b.StopTimer()
		_, err = control.Wait(ctx, e.c, run.GetID())
		require.NoError(b, err)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-weight-0/op")
}
