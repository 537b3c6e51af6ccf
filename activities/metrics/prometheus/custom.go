package prometheus

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
	"unicode/utf8"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"golang.org/x/sync/errgroup"

	"github.com/canaryflow/canaryflow/rollout"
)

// customConcurrency bounds how many custom queries are in flight at once
// (next to the built-in figures and counts): a spec's metrics must not
// turn each measurement into a burst of a dozen heavy queries.
const customConcurrency = 4

// inString returns v as the content of a double-quoted PromQL string:
// quoteValue's literal without its quotes, so it can never end the string
// a template placed it in.
func inString(v string) string {
	q := quoteValue(v)
	return q[1 : len(q)-1]
}

// buildCustomQueries resolves each custom metric's template for the spec's
// app and namespace and the window: once per version when it uses
// {{version}} (canary first), else once. Values are NaN until asked. A
// metric whose template or values cannot make a safe query carries the
// reason in Err (permanent: the same spec fails the same way next time)
// and no queries, so the others are still measured.
func buildCustomQueries(spec rollout.Spec, window time.Duration) []rollout.CustomResult {
	ms := spec.Analysis.Metrics
	if len(ms) == 0 {
		return nil
	}
	out := make([]rollout.CustomResult, len(ms))
	for i, m := range ms {
		out[i] = rollout.CustomResult{Name: m.Name}
		vals, err := customValues(m, spec, window)
		if err != nil {
			out[i].Err = fmt.Sprintf("analysis.metrics[%d] (%s): %v", i, m.Name, err)
			continue
		}
		out[i].Values = vals
	}
	return out
}

func customValues(m rollout.CustomMetric, spec rollout.Spec, window time.Duration) ([]rollout.CustomValue, error) {
	if len(m.Query) > rollout.MaxCustomQueryLen {
		return nil, fmt.Errorf("the query is %d bytes long; the maximum is %d", len(m.Query), rollout.MaxCustomQueryLen)
	}
	t, err := rollout.ParseQueryTemplate(m.Query)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	values := map[string]string{
		rollout.PlaceholderApp:       spec.App,
		rollout.PlaceholderNamespace: spec.Namespace,
		rollout.PlaceholderWindow:    rangeOf(window),
	}
	// Values outside UTF-8 are refused as the spec's labels are: the
	// lexer reads their escapes back as bytes no series carries.
	for _, name := range []string{rollout.PlaceholderApp, rollout.PlaceholderNamespace} {
		if t.Uses(name) && !utf8.ValidString(values[name]) {
			return nil, fmt.Errorf("{{%s}}'s value is not valid UTF-8", name)
		}
	}
	versions := []string{""}
	if t.Uses(rollout.PlaceholderVersion) {
		versions = []string{string(rollout.RoleCanary), string(rollout.RoleStable)}
	}
	out := make([]rollout.CustomValue, 0, len(versions))
	for _, v := range versions {
		values[rollout.PlaceholderVersion] = v
		q, err := t.Expand(values, inString)
		if err != nil {
			return nil, err
		}
		out = append(out, rollout.CustomValue{Version: v, Query: q, Value: rollout.Value(math.NaN())})
	}
	return out, nil
}

// customRun asks the custom queries on a group of its own, so that one
// failing query neither cancels the built-in figures nor the other custom
// metrics: each failure is recorded in its metric's Err.
type customRun struct {
	g       errgroup.Group
	mu      sync.Mutex
	results []rollout.CustomResult
}

// goCustom starts results' queries, evaluated at at with the per-query
// timeout of every query, customConcurrency at a time; wait returns them
// filled in. A query with no series leaves its value NaN: no data, which
// the conditions never see as 0.
func (s *Source) goCustom(ctx context.Context, spec rollout.Spec, api promv1.API, addr string, results []rollout.CustomResult, at time.Time) *customRun {
	r := &customRun{results: results}
	r.g.SetLimit(customConcurrency)
	for i := range results {
		for j := range results[i].Values {
			cv := results[i].Values[j]
			key := "custom." + results[i].Name
			if cv.Version != "" {
				key += "." + cv.Version
			}
			r.g.Go(func() error {
				v, found, err := s.query(ctx, api, addr, key, cv.Query, at)
				if err == nil && found && (math.IsNaN(v) || math.IsInf(v, 0)) {
					// NaN (0/0) and ±Inf (x/0) are no figure a condition
					// can judge: no data, as JSON's null will say.
					found = false
				}
				r.mu.Lock()
				defer r.mu.Unlock()
				if err != nil {
					msg := s.redact(err, spec).Error()
					if r.results[i].Err != "" {
						msg = r.results[i].Err + "; " + msg
					}
					r.results[i].Err = rollout.Clip(msg, rollout.MaxMessageBytes)
					return nil
				}
				if found {
					r.results[i].Values[j].Value = rollout.Value(v)
				}
				return nil
			})
		}
	}
	return r
}

// wait returns the results once every query has answered or failed.
func (r *customRun) wait() []rollout.CustomResult {
	_ = r.g.Wait() // the goroutines record their errors instead of returning them
	return r.results
}
