package rollout

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// CustomMetric is one of analysis.metrics: a PromQL query of the user's,
// judged by conditions on its result, next to the four built-in rules. Its
// query is a template (see QueryTemplate): when it uses {{version}} it is
// asked once per version and the conditions judge the canary's result
// (stable's is shown beside it); otherwise it is asked once.
//
// With only a successCondition, a result that does not meet it fails; with
// only a failureCondition, one that does not meet it passes; with both, a
// result meeting neither is Inconclusive. No data is always Inconclusive.
type CustomMetric struct {
	Name             string `json:"name"`
	Query            string `json:"query"`
	SuccessCondition string `json:"successCondition,omitempty"`
	FailureCondition string `json:"failureCondition,omitempty"`
	// Critical (sequential judgement) fails the measurement when this
	// metric fails, whatever the score, and must pass for it to pass.
	Critical bool `json:"critical,omitempty"`
	// MaxFailures (sequential judgement) is how many looks this metric may
	// fail before it counts as failed; nil takes analysis.limits.maxFailures.
	MaxFailures *int `json:"maxFailures,omitempty"`
}

// CustomResult is what the metrics source read for one custom metric: the
// resolved query and value of each version asked (or of the one query), or
// why it could not be read. A value with no series is NaN (no data), never 0.
type CustomResult struct {
	Name   string        `json:"name"`
	Values []CustomValue `json:"values,omitempty"`
	// Err says why the query failed; the metric is then judged Error.
	Err string `json:"error,omitempty"`
}

// CustomValue is one resolved query and its result. Version is canary or
// stable, or empty for a query that does not use {{version}}.
type CustomValue struct {
	Version string `json:"version,omitempty"`
	Query   string `json:"query"`
	Value   Value  `json:"value"`
}

// value returns the result for version ("" for a query asked once).
func (r CustomResult) value(version string) (CustomValue, bool) {
	for _, v := range r.Values {
		if v.Version == version {
			return v, true
		}
	}
	return CustomValue{}, false
}

var customNameRe = regexp.MustCompile(`^[a-z]([a-z0-9_-]{0,61}[a-z0-9])?$`)

// customMetrics checks analysis.metrics: every problem at once, each at its
// field. kind is metrics.kind: the queries are PromQL, so only a Prometheus
// source can ask them; the memory source (tests, dry runs) returns what its
// script says, and a metric it was not scripted for is undecided, never
// passed. A metrics kind added later must say how it answers them.
func (c *checker) customMetrics(ms []CustomMetric, kind, method string) {
	const p = "analysis.metrics"
	if len(ms) == 0 {
		return
	}
	if len(ms) > MaxCustomMetrics {
		c.add(p, "has %d metrics; the maximum is %d", len(ms), MaxCustomMetrics)
		return
	}
	if kind != "prometheus" && kind != "memory" {
		c.add(p, "needs metrics.kind prometheus (the queries are PromQL) or memory (scripted), got %q", trunc(kind))
	}
	total := 0
	for i, m := range ms {
		path := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case m.Name == "":
			c.add(path+".name", "is required (lower-case letters, digits, '-' and '_', starting with a letter, at most 63)")
		case !customNameRe.MatchString(m.Name):
			c.add(path+".name", "%q must be lower-case letters, digits, '-' and '_', start with a letter, end with a letter or digit, at most 63", trunc(m.Name))
		case slices.Contains(RuleNames, m.Name):
			c.add(path+".name", "%q is a built-in rule's name (%s); choose another", m.Name, strings.Join(RuleNames, ", "))
		case slices.IndexFunc(ms, func(o CustomMetric) bool { return o.Name == m.Name }) != i:
			c.add(path+".name", "%q names another metric too; names must be unique", m.Name)
		}
		total += len(m.Query)
		switch {
		case strings.TrimSpace(m.Query) == "":
			c.add(path+".query", "is required: a PromQL query, for example sum(rate(x{app=\"{{app}}\",version=\"{{version}}\"}[{{window}}]))")
		case c.length(path+".query", m.Query, MaxCustomQueryLen):
			if _, err := ParseQueryTemplate(m.Query); err != nil {
				c.add(path+".query", "%v", err)
			}
		}
		if m.SuccessCondition == "" && m.FailureCondition == "" {
			c.add(path, "needs a successCondition or a failureCondition (or both), like \"result < 0.05\"")
		}
		for _, f := range []struct{ name, v string }{{"successCondition", m.SuccessCondition}, {"failureCondition", m.FailureCondition}} {
			if f.v == "" {
				continue
			}
			if _, err := ParseCondition(f.v); err != nil {
				c.add(path+"."+f.name, "%v", err)
			}
		}
		if v := m.MaxFailures; v != nil && (*v < 0 || *v > MaxFailuresLimit) {
			c.add(path+".maxFailures", "must be between 0 and %d, got %d", MaxFailuresLimit, *v)
		}
		if method != MethodSequential {
			// With thresholds every metric fails the measurement like a
			// rule, counted by analysis.limits: these would be ignored.
			if m.Critical {
				c.add(path+".critical", "applies only with analysis.judging.method: sequential (with thresholds every failed metric fails the measurement)")
			}
			if m.MaxFailures != nil {
				c.add(path+".maxFailures", "applies only with analysis.judging.method: sequential (with thresholds analysis.limits.maxFailures counts every failure)")
			}
		}
	}
	if total > MaxCustomQueriesLen {
		c.add(p, "the queries are %d bytes long together; the maximum is %d", total, MaxCustomQueriesLen)
	}
}
