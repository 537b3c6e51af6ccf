package latency

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/demo/stack"
	"github.com/canaryflow/canaryflow/rollout"
)

// weightTap sits between the worker and the router's admin API and notes
// when the router answered each PUT /weight: in phases where the weight is
// already 0 (deploying, smoke testing) the router's weight never changes,
// and what the abort must bring about is compensation's weight-0 write.
type weightTap struct {
	target string
	srv    *http.Server
	url    string

	mu   sync.Mutex
	puts []put
}

type put struct {
	at     time.Time
	weight int
}

func startTap(target string) (*weightTap, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the weight tap: %w", err)
	}
	t := &weightTap{target: target, url: "http://" + ln.Addr().String()}
	t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = t.srv.Serve(ln) }()
	return t, nil
}

func (t *weightTap) close() { _ = t.srv.Close() }

// ServeHTTP forwards a request to the router and notes a PUT the router accepted.
func (t *weightTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, t.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := httpc.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answered := time.Now()
	var in struct {
		Weight *int `json:"weight"`
	}
	if r.Method == http.MethodPut && resp.StatusCode == http.StatusOK && json.Unmarshal(body, &in) == nil && in.Weight != nil {
		t.mu.Lock()
		t.puts = append(t.puts, put{at: answered, weight: *in.Weight})
		t.mu.Unlock()
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// awaitPut waits for the router to accept weight w after since.
func (t *weightTap) awaitPut(ctx context.Context, w int, since time.Time) (time.Time, error) {
	for {
		t.mu.Lock()
		for _, p := range t.puts {
			if p.weight == w && p.at.After(since) {
				t.mu.Unlock()
				return p.at, nil
			}
		}
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("waiting for the router to accept weight %d: %w", w, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// phaseCase is where in a rollout an abort lands: the plan that gets there
// and what to wait for before aborting.
type phaseCase struct {
	name  string
	steps []rollout.Step
	ready func(ctx context.Context, tap *weightTap, id string, started time.Time) error
}

// inPhase waits until the rollout's status reports cond.
func inPhase(cond func(rollout.Status) bool) func(context.Context, *weightTap, string, time.Time) error {
	return func(ctx context.Context, _ *weightTap, id string, _ time.Time) error {
		for {
			s, err := control.Status(ctx, engine.Client, id)
			if err == nil && cond(s) {
				return nil
			}
			if err == nil && s.Phase.Final() {
				return &missed{phase: s.Phase}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for the phase to abort in: %w", ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// missed is a phase that passed between two looks at the status (promoting
// lasts as long as a local stable takes to restart): the run is tried again.
type missed struct{ phase rollout.Phase }

func (m *missed) Error() string {
	return fmt.Sprintf("the rollout ended %s before the abort could land", m.phase)
}

// atWeight10 waits until the router serves 10 % and then a little longer, so
// the step after the weight has begun.
func atWeight10(ctx context.Context, tap *weightTap, _ string, started time.Time) error {
	if _, err := tap.awaitPut(ctx, 10, started); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	return nil
}

var phases = []phaseCase{
	{"deploying", []rollout.Step{rollout.Weight(10), rollout.Hold(time.Hour)},
		func(ctx context.Context, tap *weightTap, _ string, started time.Time) error {
			// The weight is read back as 0 just before the canary is deployed.
			_, err := tap.awaitPut(ctx, 0, started)
			return err
		}},
	{"smoke-testing", []rollout.Step{rollout.Weight(10), rollout.Hold(time.Hour)},
		inPhase(func(s rollout.Status) bool { return s.Phase == rollout.PhaseSmokeTesting })},
	{"hold", []rollout.Step{rollout.Weight(10), rollout.Hold(time.Hour)}, atWeight10},
	{"analysis-gate", []rollout.Step{rollout.Weight(10), rollout.Gate(rollout.MaxGateMeasurements)}, atWeight10},
	{"approval-wait", []rollout.Step{rollout.Weight(10), rollout.ApprovalGate(0, "")},
		inPhase(func(s rollout.Status) bool { return s.Phase == rollout.PhaseAwaitApproval })},
	{"promoting", []rollout.Step{rollout.Weight(10), rollout.Hold(time.Second)},
		inPhase(func(s rollout.Status) bool { return s.Phase == rollout.PhasePromoting })},
}

// BenchmarkAbort times abort signal sent → the router accepting weight 0,
// in each phase an operator can abort in, over -runs rollouts per phase, on
// the demo's stack (real router, app processes, Prometheus, load).
func BenchmarkAbort(b *testing.B) {
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*runs)*time.Duration(len(phases))*time.Minute)
		defer cancel()
		app, err := engine.StartApp(ctx, stack.AppOptions{Name: "abort"})
		require.NoError(b, err)
		defer app.Stop()
		tap, err := startTap(app.AdminURL)
		require.NoError(b, err)
		defer tap.close()

		fmt.Printf("\nabort signal → router accepts weight 0, ms (%d runs per phase; p99 is the largest of %d)\n", *runs, *runs)
		fmt.Printf("%-14s %8s %8s %8s %8s  %s\n", "phase", "p50", "p95", "p99", "max", "load")
		for _, pc := range phases {
			var took []time.Duration
			var load loadRange
			var misses int
			for i := range *runs {
				d, err := abortOnce(ctx, app, tap, pc)
				var m *missed
				for errors.As(err, &m) && misses < 10*(*runs) {
					misses++
					d, err = abortOnce(ctx, app, tap, pc)
				}
				require.NoError(b, err, "%s run %d", pc.name, i+1)
				load.sample()
				took = append(took, d)
			}
			fmt.Printf("%-14s %8s %8s %8s %8s  %s", pc.name, ms(quantile(took, 0.5)), ms(quantile(took, 0.95)),
				ms(quantile(took, 0.99)), ms(quantile(took, 1)), load)
			if misses > 0 {
				fmt.Printf(" (%d rollouts left the phase before the abort landed, retried)", misses)
			}
			fmt.Println()
			b.ReportMetric(float64(quantile(took, 0.99).Microseconds())/1000, "ms-p99-"+pc.name)
		}
	}
}

// abortOnce starts a rollout, aborts it where pc says and returns the time
// from sending the abort to the router accepting weight 0.
func abortOnce(ctx context.Context, app *stack.App, tap *weightTap, pc phaseCase) (time.Duration, error) {
	spec := app.Spec
	spec.Traffic.Local = &rollout.LocalTraffic{AdminURL: tap.url}
	spec.Steps = pc.steps
	started := time.Now()
	run, err := control.Start(ctx, engine.Client, spec, "bench-latency")
	if err != nil {
		return 0, fmt.Errorf("starting the rollout: %w", err)
	}
	id := run.GetID()
	if err := pc.ready(ctx, tap, id, started); err != nil {
		return 0, err
	}
	sent := time.Now()
	if err := control.Signal(ctx, engine.Client, id, rollout.SignalAbort, rollout.Abort{By: "bench", Reason: pc.name}); err != nil {
		if res, werr := control.Wait(ctx, engine.Client, id); werr == nil && res.Phase == rollout.PhasePromoted {
			return 0, &missed{phase: res.Phase} // it finished between the look and the signal
		}
		return 0, fmt.Errorf("aborting: %w", err)
	}
	type ended struct {
		phase  rollout.Phase
		reason string
		err    error
	}
	done := make(chan ended, 1)
	go func() {
		res, err := control.Wait(ctx, engine.Client, id)
		done <- ended{res.Phase, res.Reason, err}
	}()
	// An abort that comes after the promotion moved traffic changes nothing
	// (no weight-0 write follows it): it missed its phase.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var end ended
	go func() {
		end = <-done
		time.Sleep(time.Second)
		stop()
	}()
	zero, zerr := tap.awaitPut(wctx, 0, sent)
	<-wctx.Done()
	if end.err != nil {
		return 0, fmt.Errorf("waiting for the rollback: %w", end.err)
	}
	if zerr != nil && end.phase == rollout.PhasePromoted {
		return 0, &missed{phase: end.phase}
	}
	if zerr != nil {
		return 0, zerr
	}
	// An abort that comes as traffic reaches the promoted stable lets the
	// promotion complete (weight 0 all the same); anything else rolls back.
	if end.phase != rollout.PhaseRolledBack && (pc.name != "promoting" || end.phase != rollout.PhasePromoted) {
		return 0, fmt.Errorf("aborted in %s, the rollout ended %s: %s", pc.name, end.phase, end.reason)
	}
	return zero.Sub(sent), nil
}
