package rollout

import (
	"fmt"
	"slices"
	"strings"
)

// Evidence renders what a measurement's verdict rests on, one line each,
// for the terminal and reports: the counts behind the figures, every rule's
// and custom metric's judgement with its one-line reason, and the custom
// metrics' resolved queries with their results. (The built-in queries are
// in Sample.Queries.) Nothing here is new information: it is the status'
// own fields, in the order a person checks a verdict.
func (m Measurement) Evidence() []string {
	var out []string
	if c := m.Sample.Cumulative; c != nil {
		out = append(out, "counts since the weight began ("+c.Span.D().String()+"): "+c.errorsLine())
	}
	if c := m.Sample.Window; c != nil {
		out = append(out, "counts over the window ("+c.Span.D().String()+"): "+c.errorsLine())
	}
	for _, r := range m.Judged() {
		line := r.Reason
		if !strings.HasPrefix(line, r.Rule+" ") {
			line = r.Rule + ": " + line
		}
		if r.Critical {
			line += " (critical)"
		}
		out = append(out, line)
	}
	for _, c := range m.Sample.Custom {
		if c.Err != "" {
			out = append(out, fmt.Sprintf("%s: query failed: %s", c.Name, c.Err))
		}
		for _, v := range c.Values {
			who := c.Name
			if v.Version != "" {
				who += " " + v.Version
			}
			out = append(out, fmt.Sprintf("%s = %s: %s", who, Short(float64(v.Value)), v.Query))
		}
	}
	return out
}

// Judged are the measurement's rule results and then its custom metrics'
// (kept apart when judged by thresholds), in the order they were judged.
func (m Measurement) Judged() []RuleResult {
	if len(m.CustomRules) == 0 {
		return m.Rules
	}
	return append(slices.Clone(m.Rules), m.CustomRules...)
}

func (c Counts) errorsLine() string {
	return fmt.Sprintf("canary %.0f/%.0f errors, stable %.0f/%.0f errors", c.Canary.Errors, c.Canary.Requests, c.Stable.Errors, c.Stable.Requests)
}

// Builtin reports whether the result is one of the four built-in rules,
// whose figures are shares (shown as percentages), as opposed to a custom
// metric, whose figure is the query's result as it is.
func (r RuleResult) Builtin() bool { return slices.Contains(RuleNames, r.Rule) }

// Figures renders the result's estimate, confidence bounds, limit, p-value
// against alpha and counts, each "–" when the judge had none: the columns
// of a report's table of rules.
func (r RuleResult) Figures() (estimate, bounds, limit, p, counts string) {
	f := func(v Value) string { return Short(float64(v)) }
	if r.Builtin() {
		f = func(v Value) string { return v.Format(100, "%.3g %%") }
	}
	estimate, limit = dash(r.Estimate, f), dash(r.Limit, f)
	bounds = "–"
	if !r.Lo.Missing() || !r.Hi.Missing() {
		bounds = dash(r.Lo, f) + " to " + dash(r.Hi, f)
	}
	p = "–"
	alpha := dash(r.Alpha, func(v Value) string { return fmt.Sprintf("%.2g", float64(v)) })
	switch {
	case !r.P.Missing():
		p = fmt.Sprintf("%.2g (α %s)", float64(r.P), alpha)
	case r.Window > 0:
		// Judged on the last window alone: the lower bound decided, at α.
		p = fmt.Sprintf("lower bound at α %s, last %s", alpha, r.Window.D())
	}
	var cs []string
	if r.Canary != nil {
		cs = append(cs, "canary "+r.Canary.String())
	}
	if r.Stable != nil {
		cs = append(cs, "stable "+r.Stable.String())
	}
	counts = "–"
	if len(cs) > 0 {
		counts = strings.Join(cs, ", ")
	}
	return estimate, bounds, limit, p, counts
}

func dash(v Value, f func(Value) string) string {
	if v.Missing() {
		return "–"
	}
	return f(v)
}
