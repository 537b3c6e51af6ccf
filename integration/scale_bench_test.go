package integration

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/rollout"
)

// scaleInterval is the analysis interval the scale figures are measured at:
// the 10 s (the default plan's is a minute, six times less work).
const scaleInterval = 10 * time.Second

// BenchmarkScale holds N rollouts on one in-process worker and one dev server,
// each at weight 10 measuring every 10 s (in-memory providers, so what is
// measured is the engine), and reports for a window of SCALE_WINDOW (60 s):
// measurement lag p50/p99 (how late each measurement comes after its
// interval), the worker's and the server's CPU, heap per rollout, and history
// events per measurement. SCALE_N lists the sizes (default 100); `make
// bench-scale` runs 100, 300, 1000 and 2000; SCALE_SPREAD=1 spreads the starts;
// SCALE_STOCK=1 leaves the dev server's settings alone (see shardSettings).
// Where a measurement's time went (the server's timers, its task queue, the
// worker) is read from the histories and printed beside the lag.
func BenchmarkScale(b *testing.B) {
	for _, n := range envInts(b, "SCALE_N", []int{100}) {
		b.Run(fmt.Sprintf("rollouts=%d", n), func(b *testing.B) {
			for range b.N {
				scaleOnce(b, n)
			}
		})
	}
}

func scaleOnce(b *testing.B, n int) {
	window := 60 * time.Second
	if v := os.Getenv("SCALE_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(b, err, "SCALE_WINDOW")
		window = d
	}
	e := startEngineWith(b, devstack.TemporalOptions{DynamicConfig: serverSettings(b)})
	// SCALE_POLLERS sets the worker's workflow and activity task pollers
	// (the SDK's default is 2 each).
	var wo worker.Options
	if v := os.Getenv("SCALE_POLLERS"); v != "" {
		p, err := strconv.Atoi(v)
		require.NoError(b, err, "SCALE_POLLERS")
		wo.MaxConcurrentWorkflowTaskPollers, wo.MaxConcurrentActivityTaskPollers = p, p
	}
	e.m.StartWorkerWith(b, nil, wo)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	heap0 := heapInUse()

	// Start them all, a few at a time, and wait until each has traffic.
	// SCALE_SPREAD=1 spreads the starts over one interval, as rollouts
	// started by different teams are; by default they start together, so
	// their measurements come due in the same second of every interval.
	spread := os.Getenv("SCALE_SPREAD") == "1"
	ids := make([]string, n)
	specs := make([]rollout.Spec, n)
	var g errgroup.Group
	g.SetLimit(16)
	began := time.Now()
	for i := range n {
		if spread {
			time.Sleep(time.Until(began.Add(scaleInterval * time.Duration(i) / time.Duration(n))))
		}
		g.Go(func() error {
			spec := quickSpec(fmt.Sprintf("scale-%d", i))
			spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(time.Hour)}
			spec.Analysis.Interval = rollout.Duration(scaleInterval)
			run, err := control.Start(ctx, e.c, spec, "bench")
			if err != nil {
				return fmt.Errorf("starting rollout %d: %w", i, err)
			}
			ids[i], specs[i] = run.GetID(), spec
			return nil
		})
	}
	require.NoError(b, g.Wait())
	require.Eventually(b, func() bool {
		for _, spec := range specs {
			if w, _ := e.router.Weight(ctx, spec); w != 10 {
				return false
			}
		}
		return true
	}, 10*time.Minute, time.Second, "every rollout reaches weight 10")

	// One interval more, so every rollout has measured before the window
	// opens and each measurement in it has a previous one to be late against.
	time.Sleep(scaleInterval)

	// A few rollouts are sampled for history growth over the window.
	sample := ids[:min(10, n)]
	events0, measured0 := historyAndMeasurements(ctx, b, e, sample)
	worker0, server0 := selfCPU(), processCPU(b, e.srv.Pid())
	t0 := time.Now()
	b.ResetTimer()
	time.Sleep(window)
	b.StopTimer()
	workerCPU, serverCPU := selfCPU()-worker0, processCPU(b, e.srv.Pid())-server0
	elapsed := time.Since(t0)
	events1, measured1 := historyAndMeasurements(ctx, b, e, sample)
	heap := heapInUse() - heap0

	lags := measurementLags(ctx, b, e, ids, t0)
	require.NotEmpty(b, lags, "no measurements in the window")
	slices.Sort(lags)
	pct := func(p float64) float64 { return lags[min(len(lags)-1, int(p*float64(len(lags))))].Seconds() }
	whereLagWent(ctx, b, e, ids, t0).report(b)
	b.ReportMetric(pct(0.50), "lag-p50-s")
	b.ReportMetric(pct(0.99), "lag-p99-s")
	b.ReportMetric(float64(len(lags))/elapsed.Seconds(), "measurements/s")
	b.ReportMetric(float64(n)/scaleInterval.Seconds(), "due/s")
	b.ReportMetric(workerCPU.Seconds()/elapsed.Seconds()*100, "worker-cpu-%")
	b.ReportMetric(serverCPU.Seconds()/elapsed.Seconds()*100, "server-cpu-%")
	b.ReportMetric(float64(heap)/float64(n)/1024, "heap-KiB/rollout")
	if d := measured1 - measured0; d > 0 {
		b.ReportMetric(float64(events1-events0)/float64(d), "events/measurement")
	}

	// Terminating is faster than waiting out the holds.
	g = errgroup.Group{}
	g.SetLimit(16)
	for _, id := range ids {
		g.Go(func() error { return e.c.TerminateWorkflow(ctx, id, "", "benchmark over") })
	}
	require.NoError(b, g.Wait())
}

// measurementLags is, for every measurement completed after t0, how much
// later than one interval after the previous one it came.
func measurementLags(ctx context.Context, b *testing.B, e *engine, ids []string, t0 time.Time) []time.Duration {
	out := make([][]time.Duration, len(ids))
	var g errgroup.Group
	g.SetLimit(16)
	for i, id := range ids {
		g.Go(func() error {
			s, err := control.Status(ctx, e.c, id)
			if err != nil {
				return err
			}
			ms := s.Measurements
			for j := 1; j < len(ms); j++ {
				if ms[j].At.After(t0) {
					out[i] = append(out[i], max(ms[j].At.Sub(ms[j-1].At)-scaleInterval, 0))
				}
			}
			return nil
		})
	}
	require.NoError(b, g.Wait())
	return slices.Concat(out...)
}

// historyAndMeasurements totals the history length and measurements taken of ids.
func historyAndMeasurements(ctx context.Context, b *testing.B, e *engine, ids []string) (events, measured int) {
	for _, id := range ids {
		d, err := e.c.DescribeWorkflowExecution(ctx, id, "")
		require.NoError(b, err)
		events += int(d.GetWorkflowExecutionInfo().GetHistoryLength())
		s, err := control.Status(ctx, e.c, id)
		require.NoError(b, err)
		measured += s.MeasurementsTaken
	}
	return events, measured
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// selfCPU is this process's user and system CPU time: the worker's, since
// the benchmark itself mostly sleeps.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU reads another process's user and system CPU time from /proc.
func processCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(b, err)
	// Fields after the command name (which may hold spaces) start at ") ".
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, err := strconv.ParseInt(fields[11], 10, 64)
	require.NoError(b, err)
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	require.NoError(b, err)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// envInts reads a comma-separated list of sizes from name, or def.
func envInts(b *testing.B, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(b, err, "%s=%q", name, v)
		out = append(out, n)
	}
	return out
}

// shardSettings is what the scale benchmark changes on the dev server, and
// why. The dev server has one history shard, so the timers of every rollout
// share one timer queue; a cluster spreads them over hundreds of shards. That
// queue loads 100 timers per batch, and a reader that loads three batches
// without getting past one second of timers is judged stuck: the rest of that
// second moves to a low-priority second reader, whose timers fired 25–40 s
// late here. A thousand rollouts started together put about 3,000 timers
// (measurement timers and workflow-task timeouts) in one second. A batch of
// 1,000 lets the one shard load such a second the way a cluster's shards
// together would. SCALE_STOCK=1 runs the server as shipped.
var shardSettings = map[string]string{"history.timerTaskBatchSize": "1000"}

// serverSettings is the dev server's dynamic config for this run, printed so
// a figure is never read without it.
func serverSettings(b *testing.B) map[string]string {
	if os.Getenv("SCALE_STOCK") == "1" {
		b.Log("dev server as shipped (SCALE_STOCK=1)")
		return nil
	}
	b.Logf("dev server with %v (SCALE_STOCK=1 for none)", shardSettings)
	return shardSettings
}
