package latency

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/demo/load"
	"github.com/canaryflow/canaryflow/rollout"
)

var httpc = &http.Client{Timeout: 5 * time.Second}

// watchWeightZero polls the router's own admin API every 2 ms and sends the
// first moment it reports weight 0: the router is the authority on where
// traffic goes, whatever the workflow believes.
func watchWeightZero(ctx context.Context, adminURL string) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/weight", nil)
			if err != nil {
				return
			}
			if resp, err := httpc.Do(req); err == nil {
				var w struct {
					Weight int `json:"weight"`
				}
				derr := json.NewDecoder(resp.Body).Decode(&w)
				at := time.Now()
				resp.Body.Close()
				if derr == nil && w.Weight == 0 {
					out <- at
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return out
}

// traffic keeps every answer the load saw, so the moment a fault became
// visible in the traffic itself (no scrape, no interval) can be found.
type traffic struct {
	mu      sync.Mutex
	answers []load.Answer
}

func (t *traffic) observe(a load.Answer) {
	t.mu.Lock()
	t.answers = append(t.answers, a)
	t.mu.Unlock()
}

// forgetBefore drops answers older than cutoff, so memory stays bounded
// across runs while the window before a fault is kept.
func (t *traffic) forgetBefore(cutoff time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for i < len(t.answers) && t.answers[i].At.Before(cutoff) {
		i++
	}
	t.answers = slices.Delete(t.answers, 0, i)
}

// figures computes one version's figures over (at-window, at] as the
// analysis queries would if every request were seen the moment it ended.
func (t *traffic) figures(version string, at time.Time, window time.Duration) rollout.VersionFigures {
	var n, errs int
	var lat []float64
	for _, a := range t.answers {
		if a.Version != version || !a.At.After(at.Add(-window)) || a.At.After(at) {
			continue
		}
		n++
		if a.Status >= 500 {
			errs++
		}
		lat = append(lat, a.Latency.Seconds())
	}
	if n == 0 {
		return rollout.NoData()
	}
	slices.Sort(lat)
	q := func(p float64) rollout.Value { return rollout.Value(lat[min(int(p*float64(n)), n-1)]) }
	return rollout.VersionFigures{
		RequestRate: rollout.Value(float64(n) / window.Seconds()),
		ErrorRate:   rollout.Value(float64(errs) / float64(n)),
		P95:         q(0.95), P99: q(0.99),
	}
}

// firstBreach is the first moment in [from, to] (10 ms steps) at which the
// traffic itself breaks the thresholds over the analysis window, judged on
// the figure the fault is about only (errors, or latency): exact quantiles
// over a few dozen requests are noisier than the histogram's, and a latency
// blip must not pass for an error fault showing.
func (t *traffic) firstBreach(th rollout.Thresholds, errorsOnly bool, from, to time.Time, window time.Duration) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	only := func(f rollout.VersionFigures) rollout.VersionFigures {
		if errorsOnly {
			f.P95, f.P99 = 0, 0
		} else {
			f.ErrorRate = 0
		}
		return f
	}
	for at := from; !at.After(to); at = at.Add(10 * time.Millisecond) {
		s := rollout.Sample{Canary: only(t.figures("v2", at, window)), Stable: only(t.figures("v1", at, window))}
		if v, _ := rollout.Evaluate(th, s); v == rollout.Failed {
			return at, true
		}
	}
	return time.Time{}, false
}

// promFirstFailure evaluates the measurement's own resolved queries in
// Prometheus over [from, to] every 25 ms (range queries, after the fact, so
// nothing is added to the run) and returns the first moment their figures
// break the thresholds: when a measurement taken then would have failed.
func promFirstFailure(ctx context.Context, promURL string, queries map[string]string, th rollout.Thresholds, from, to time.Time) (time.Time, error) {
	const step = 25 * time.Millisecond
	n := int(to.Sub(from)/step) + 1
	vals := map[string][]float64{}
	for _, key := range []string{"canary.requestRate", "canary.errorRate", "canary.p95", "canary.p99",
		"stable.requestRate", "stable.errorRate", "stable.p95", "stable.p99"} {
		q, ok := queries[key]
		if !ok {
			return time.Time{}, fmt.Errorf("replaying the measurement in Prometheus: no %s query in the measurement", key)
		}
		series, err := rangeQuery(ctx, promURL, q, from, to, step)
		if err != nil {
			return time.Time{}, fmt.Errorf("replaying %s in Prometheus: %w", key, err)
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = math.NaN()
		}
		for at, x := range series {
			if i := int((at.Sub(from) + step/2) / step); i >= 0 && i < n {
				v[i] = x
			}
		}
		vals[key] = v
	}
	fig := func(role string, i int) rollout.VersionFigures {
		return rollout.VersionFigures{
			RequestRate: rollout.Value(vals[role+".requestRate"][i]), ErrorRate: rollout.Value(vals[role+".errorRate"][i]),
			P95: rollout.Value(vals[role+".p95"][i]), P99: rollout.Value(vals[role+".p99"][i]),
		}
	}
	for i := range n {
		if v, _ := rollout.Evaluate(th, rollout.Sample{Canary: fig("canary", i), Stable: fig("stable", i)}); v == rollout.Failed {
			return from.Add(time.Duration(i) * step), nil
		}
	}
	return time.Time{}, fmt.Errorf("replaying the measurement in Prometheus: no failing evaluation between %s and %s",
		from.Format(time.StampMilli), to.Format(time.StampMilli))
}

// rangeQuery runs one query_range and returns its single series by time.
func rangeQuery(ctx context.Context, promURL, q string, from, to time.Time, step time.Duration) (map[time.Time]float64, error) {
	v := url.Values{"query": {q}, "start": {unix(from)}, "end": {unix(to)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', 3, 64)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, promURL+"/api/v1/query_range?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("prometheus says %s: %s", body.Status, body.Error)
	}
	out := map[time.Time]float64{}
	if len(body.Data.Result) == 0 {
		return out, nil
	}
	for _, p := range body.Data.Result[0].Values {
		ts, _ := p[0].(float64)
		s, _ := p[1].(string)
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			continue
		}
		out[time.Unix(0, int64(ts*1e9))] = x
	}
	return out, nil
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64) }

// activity is one activity execution's times as the server recorded them.
type activity struct {
	name                          string
	scheduled, started, completed time.Time
}

// activities reads the rollout's history and returns its activities in
// the order they were scheduled.
func activities(ctx context.Context, c client.Client, id string) ([]activity, error) {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	byID := map[int64]*activity{}
	var order []int64
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("reading the history of %s: %w", id, err)
		}
		at := e.GetEventTime().AsTime()
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			byID[e.GetEventId()] = &activity{name: e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName(), scheduled: at}
			order = append(order, e.GetEventId())
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if a := byID[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]; a != nil {
				a.started = at
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if a := byID[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]; a != nil {
				a.completed = at
			}
		}
	}
	out := make([]activity, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, nil
}
