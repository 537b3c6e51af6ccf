package latency

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/analysis"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/demo/stack"
	"github.com/canaryflow/canaryflow/rollout"
)

// detection is one fault → weight 0 run, cut where the seconds go. Each
// stage ends where the next begins, so they add up to total.
type detection struct {
	total time.Duration
	// fill: fault → the traffic itself breaks a threshold over the window
	// (errors have to happen and outweigh the window's good requests).
	fill time.Duration
	// scrape: → a measurement evaluated in Prometheus would fail (scrape
	// interval, and rate() needing two samples of a new 5xx series).
	scrape time.Duration
	// interval: → the failing Measure activity starts (waiting for the
	// analysis loop's next tick; with the sequential judge, also the looks
	// whose evidence was not yet strong enough).
	interval time.Duration
	// measure: the Measure activity, start to completion (queries).
	measure time.Duration
	// why: the failed look's reason, which says which test called it (the
	// pooled one or the last window alone) and on what counts.
	why string
	// decide: → compensation schedules SetWeight(0) (workflow tasks).
	decide time.Duration
	// setWeight: → the router reports weight 0 (dispatch, HTTP, apply).
	setWeight time.Duration
}

// method is the judgement the detection runs use; empty is the default
// (sequential since judge revision 3; thresholds is the reference's window rules).
var (
	method = flag.String("method", "", "analysis.judging.method for the detection runs (empty: the default)")
	why    = flag.Bool("why", false, "print under each detection run the reason of the look that failed")
)

// BenchmarkDetection injects a fault into a canary that has held 25 % of
// the demo's load for a whole window (the demo's settings: stack.AppOptions'
// load, interval and window, stack.ScrapeInterval) and times fault → the
// router's weight 0, over -runs rollouts per fault. Each run waits a random part of an
// interval after a successful measurement, so faults land at every phase
// of the analysis loop.
func BenchmarkDetection(b *testing.B) {
	for _, c := range []struct {
		name   string
		faults stack.Faults
	}{
		{"errors-8pct", stack.Faults{ErrorRate: 0.08}},
		{"latency-3x", stack.Faults{Latency: "150ms"}}, // 3 × the 50 ms both versions take
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				benchDetection(b, c.name, c.faults)
			}
		})
	}
}

func benchDetection(b *testing.B, name string, faults stack.Faults) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*runs)*3*time.Minute)
	defer cancel()
	tr := &traffic{}
	app, err := engine.StartApp(ctx, stack.AppOptions{Name: "detect-" + name, ObserveLoad: tr.observe})
	require.NoError(b, err)
	defer app.Stop()
	spec := app.Spec
	spec.Analysis.Judging.Method = *method
	th := spec.WithDefaults().Analysis.Thresholds
	window, interval := spec.Analysis.Window.D(), spec.Analysis.Interval.D()
	spec.Steps = []rollout.Step{rollout.Weight(25), rollout.Hold(demoLooksHold(b, app.Spec))}

	var all []detection
	var load loadRange
	fmt.Printf("\n%s: fault → router weight 0 at 25 %% (method %s, interval %s, window %s, scrape %s, %.0f req/s, hold %s: %d planned looks as the demo's plan), seconds\n",
		name, spec.WithDefaults().Analysis.Judging.Method, interval, window, stack.ScrapeInterval, app.Load.Snapshot().Rate(),
		spec.Steps[1].Pause.Duration.D(), analysis.PlannedLooks(spec))
	fmt.Printf("%4s %8s %8s %8s %8s %8s %8s %8s %6s\n", "run", "total", "fill", "scrape", "interval", "measure", "decide", "setWght", "load")
	var falses []string
	for i := range *runs {
		d, err := detectOnce(ctx, app, tr, spec, th, window, interval, faults)
		var fr *falseRollback
		for errors.As(err, &fr) && len(falses) < *runs {
			// A healthy canary judged bad is a figure of its own (printed
			// below), not a reason to lose the run's other figures.
			falses = append(falses, fmt.Sprintf("%s (load avg %.2f)", fr.reason, loadAverage()))
			time.Sleep(window + time.Second)
			d, err = detectOnce(ctx, app, tr, spec, th, window, interval, faults)
		}
		require.NoError(b, err, "run %d", i+1)
		load.sample()
		all = append(all, d)
		fmt.Printf("%4d %8s %8s %8s %8s %8s %8s %8s %6.2f\n", i+1, secs(d.total), secs(d.fill), secs(d.scrape),
			secs(d.interval), secs(d.measure), secs(d.decide), secs(d.setWeight), loadAverage())
		if *why {
			fmt.Printf("       %s\n", d.why)
		}
	}
	med := func(f func(detection) time.Duration) time.Duration {
		ds := make([]time.Duration, len(all))
		for i, d := range all {
			ds[i] = f(d)
		}
		return quantile(ds, 0.5)
	}
	totals := make([]time.Duration, len(all))
	for i, d := range all {
		totals[i] = d.total
	}
	p50, p95 := quantile(totals, 0.5), quantile(totals, 0.95)
	stages := []struct {
		unit string
		f    func(detection) time.Duration
	}{
		{"s-fill-p50", func(d detection) time.Duration { return d.fill }},
		{"s-scrape-p50", func(d detection) time.Duration { return d.scrape }},
		{"s-interval-p50", func(d detection) time.Duration { return d.interval }},
		{"s-measure-p50", func(d detection) time.Duration { return d.measure }},
		{"s-decide-p50", func(d detection) time.Duration { return d.decide }},
		{"s-setweight-p50", func(d detection) time.Duration { return d.setWeight }},
	}
	fmt.Printf("%4s %8s", "p50", secs(p50))
	for _, s := range stages {
		fmt.Printf(" %8s", secs(med(s.f)))
	}
	fmt.Printf("\n%s: fault → weight 0 over %d runs: p50 %ss p95 %ss (%s)\n", name, len(all), secs(p50), secs(p95), load)
	fmt.Printf("%s: healthy canaries rolled back before the fault: %d\n", name, len(falses))
	for _, f := range falses {
		fmt.Printf("  %s\n", f)
	}
	b.ReportMetric(float64(len(falses)), "false-rollbacks")
	b.ReportMetric(p50.Seconds(), "s-to-weight-0-p50")
	b.ReportMetric(p95.Seconds(), "s-to-weight-0-p95")
	for _, s := range stages {
		b.ReportMetric(med(s.f).Seconds(), s.unit)
	}
	b.ReportMetric(load.hi, "load-avg-max")
}

// falseRollback is a healthy canary rolled back before the fault was injected.
type falseRollback struct {
	phase  rollout.Phase
	reason string
}

func (f *falseRollback) Error() string {
	return fmt.Sprintf("the rollout ended %s before the fault: %s", f.phase, f.reason)
}

// demoLooksHold is how long the benchmark's one hold at 25 % must be for
// its plan to count as many looks as the demo's (analysis.PlannedLooks): the
// default judgement's recent look spends its alpha evenly over the planned
// looks, so a longer hold would make every look stricter than in the demo.
// An hour's hold plans 3,635 looks at 1 s, 23 times the demo's 155,
// and timed a judge far slower than the demo's. The hold still outlasts a
// fault injected after a full window at 25 % and its detection.
func demoLooksHold(b *testing.B, demo rollout.Spec) time.Duration {
	want, every := analysis.PlannedLooks(demo), demo.Analysis.Interval.D()
	withHold := func(d time.Duration) rollout.Spec {
		s := demo
		s.Steps = []rollout.Step{rollout.Weight(25), rollout.Hold(d)}
		return s
	}
	hold := time.Duration(want) * every
	for hold > every && analysis.PlannedLooks(withHold(hold)) > want {
		hold -= every
	}
	require.Equal(b, want, analysis.PlannedLooks(withHold(hold)), "a hold whose plan counts the demo's looks")
	return hold
}

// detectOnce runs one rollout to a successful measurement at 25 %, injects
// faults and cuts the time to the router's weight 0 into stages.
func detectOnce(ctx context.Context, app *stack.App, tr *traffic, spec rollout.Spec, th rollout.Thresholds,
	window, interval time.Duration, faults stack.Faults) (detection, error) {
	run, err := control.Start(ctx, engine.Client, spec, "bench-latency")
	if err != nil {
		return detection{}, fmt.Errorf("starting the rollout: %w", err)
	}
	id := run.GetID()
	for {
		s, err := control.Status(ctx, engine.Client, id)
		if err != nil {
			return detection{}, fmt.Errorf("waiting for a successful measurement at 25%%: %w", err)
		}
		// Steady state: the last look passed over a window all at 25 %, so
		// the fault lands in the middle of a hold, not at its start.
		if m, ok := s.LastMeasurement(); ok && s.Weight == 25 && m.Weight == 25 && m.Verdict == rollout.Successful &&
			m.At.Sub(s.WeightSince) >= window {
			break
		}
		if s.Phase.Final() {
			return detection{}, &falseRollback{phase: s.Phase, reason: s.Reason}
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(rand.N(interval))
	tr.forgetBefore(time.Now().Add(-2 * window))

	wctx, stop := context.WithCancel(ctx)
	defer stop()
	zero := watchWeightZero(wctx, app.AdminURL)
	fault := time.Now()
	if err := app.InjectCanary(ctx, faults); err != nil {
		return detection{}, err
	}
	var atZero time.Time
	select {
	case atZero = <-zero:
	case <-time.After(2 * time.Minute):
		return detection{}, fmt.Errorf("the router never reached weight 0 after the fault")
	}
	res, err := control.Wait(ctx, engine.Client, id)
	if err != nil {
		return detection{}, fmt.Errorf("waiting for the rollback: %w", err)
	}
	if res.Phase != rollout.PhaseRolledBack {
		return detection{}, fmt.Errorf("the rollout ended %s, not RolledBack: %s", res.Phase, res.Reason)
	}
	d, err := cut(ctx, app, tr, id, th, window, faults, fault, atZero)
	// The removed canary's last errors stay in Prometheus for a window; the
	// next run's canary, at the same address, must not be judged on them.
	time.Sleep(window + time.Second)
	return d, err
}

// cut splits fault → atZero into the detection's stages.
func cut(ctx context.Context, app *stack.App, tr *traffic, id string, th rollout.Thresholds, window time.Duration,
	faults stack.Faults, fault, atZero time.Time) (detection, error) {
	d := detection{total: atZero.Sub(fault)}
	s, err := control.Status(ctx, engine.Client, id)
	if err != nil {
		return d, fmt.Errorf("reading the rollout's measurements: %w", err)
	}
	var failed *rollout.Measurement
	for i := range s.Measurements {
		if m := &s.Measurements[i]; m.Verdict == rollout.Failed {
			failed = m
			break
		}
	}
	if failed == nil {
		return d, fmt.Errorf("no failed measurement in %s (reason: %s)", id, s.Reason)
	}
	d.why = strings.Join(failed.Reasons, "; ")
	seen, ok := tr.firstBreach(th, faults.ErrorRate > 0, fault, atZero, window)
	if !ok {
		seen = atZero
	}
	inProm, err := promFirstFailure(ctx, app.Prometheus.URL(), failed.Sample.Queries, th, fault, atZero)
	if err != nil {
		return d, err
	}
	acts, err := activities(ctx, engine.Client, id)
	if err != nil {
		return d, err
	}
	var measure, setWeight activity
	for _, a := range acts {
		switch {
		case a.name == "Measure" && !a.completed.IsZero() && a.completed.Before(atZero):
			measure = a
		case a.name == "SetWeight" && !measure.completed.IsZero() && a.scheduled.After(measure.completed) && setWeight.name == "":
			setWeight = a
		}
	}
	if measure.name == "" || setWeight.name == "" {
		return d, fmt.Errorf("no Measure followed by SetWeight before weight 0 in the history of %s", id)
	}
	d.fill = seen.Sub(fault)
	d.scrape = inProm.Sub(seen)
	d.interval = measure.started.Sub(inProm)
	d.measure = measure.completed.Sub(measure.started)
	d.decide = setWeight.scheduled.Sub(measure.completed)
	d.setWeight = atZero.Sub(setWeight.scheduled)
	return d, nil
}
