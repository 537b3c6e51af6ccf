// Command bench-decisions prints, as Markdown, how the judge and today's
// fixed-window rules decide simulated rollouts of the default plan: how often
// each rolls back, stops for a person or promotes, how soon and on how much
// canary traffic. The table is the same for a given seed; the time it took
// goes to stderr. `make bench-decisions` runs it.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/canaryflow/canaryflow/analysis/sim"
)

func main() {
	seed := flag.Uint64("seed", 1, "seed of the PCG streams")
	runs := flag.Int("runs", 1000, "simulated rollouts per scenario and rate")
	rates := flag.String("rates", "1,2,10,100", "total requests per second, comma-separated")
	workers := flag.Int("workers", 0, "rollouts simulated at once (0: one per CPU)")
	tune := flag.Bool("tune", false, "also run alternative judge configurations, labelled as such")
	flag.Parse()
	if err := run(os.Stdout, *seed, *runs, *rates, *workers, *tune); err != nil {
		slog.Error("bench-decisions", "err", err)
		os.Exit(1)
	}
}

func run(w io.Writer, seed uint64, runs int, rateList string, workers int, tune bool) error {
	var rates []float64
	for _, f := range strings.Split(rateList, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("reading -rates: %q is not a positive number", f)
		}
		rates = append(rates, r)
	}
	plan, err := sim.DefaultPlan()
	if err != nil {
		return err
	}
	judges := []sim.Variant{{Name: "judge", Config: plan.JudgeConfig()}}
	if tune {
		judges = append(judges, sim.Tunings(plan)...)
	}
	start := time.Now()
	cells, err := sim.Simulate(sim.Options{
		Seed: seed, Runs: runs, Rates: rates, Cases: sim.DefaultCases(), Plan: plan, Judges: judges, Workers: workers,
	})
	if err != nil {
		return err
	}
	took := time.Since(start)

	fmt.Fprintf(w, "## Decisions on simulated traffic (seed %d, %d runs per row)\n\n", seed, runs)
	fmt.Fprintf(w, "Default plan: %s, a look every %s on a %s window. Healthy service: %.0f %% errors, lognormal latency "+
		"(median %.0f ms, σ %.1f) recorded in the middleware's buckets. The same simulated traffic feeds every decider.\n\n",
		stagesText(plan), plan.Interval, plan.Interval, 1.0, 1000*sim.Healthy.Median, sim.Healthy.Sigma)
	fmt.Fprintf(w, "- judge: analysis.LookRecent (revision 3, the default: one sequential test per rule across the weights on the counts since "+
		"the weight began, and a recent look failing a rule on the last window alone); a Failed look rolls back; a hold whose last look is not Successful is extended by its own length "+
		"(as the workflow does) and then \"paused for a person\", never a promotion.\n"+
		"- today (baseline): rollout.Evaluate on each window's rates and histogram_quantile p95; the first Failed rolls "+
		"back, and so does a 4th Inconclusive in a row (the default limits).\n"+
		"- The first four scenarios are the issue's; the rest are extra checks. Times are since the canary first got "+
		"traffic; requests are the canary's, counted from the start up to the decision.\n\n")
	if err := sim.WriteTable(w, cells, plan.Interval); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n### Canary requests needed to roll back a bad canary\n\n")
	if err := sim.WriteRequests(w, cells); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n### Targets (judge)\n\n")
	if err := sim.WriteTargets(w, sim.Targets(cells)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench-decisions: %d rollouts in %s\n", runs*len(rates)*len(sim.DefaultCases()), took.Round(time.Second))
	return nil
}

func stagesText(p sim.Plan) string {
	parts := make([]string, 0, len(p.Stages))
	for _, s := range p.Stages {
		parts = append(parts, fmt.Sprintf("%d %% for %s", s.Weight, time.Duration(s.Looks)*p.Interval))
	}
	return strings.Join(parts, " → ")
}
