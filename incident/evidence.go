package incident

import (
	"fmt"
	"strings"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// maxFailedShown bounds how many failed measurements before the last one
// get their evidence written out: the last few say why it rolled back, and
// the JSON report keeps every one.
const maxFailedShown = 5

// writeEvidence writes what the verdicts rest on, for the last measurement
// and the failed ones before it (the most recent maxFailedShown): counts,
// each rule's and custom metric's estimate, confidence bounds, limit,
// p-value, counts, verdict and reason, and the custom metrics' resolved
// queries with their results.
func writeEvidence(b *strings.Builder, ms []rollout.Measurement) {
	var shown []rollout.Measurement
	last := len(ms) - 1
	for i := last - 1; i >= 0 && len(shown) < maxFailedShown; i-- {
		if ms[i].Verdict == rollout.Failed && hasEvidence(ms[i]) {
			shown = append([]rollout.Measurement{ms[i]}, shown...)
		}
	}
	if hasEvidence(ms[last]) {
		shown = append(shown, ms[last])
	}
	if len(shown) == 0 {
		return
	}
	b.WriteString("## Evidence\n\n")
	for _, m := range shown {
		fmt.Fprintf(b, "### %s at %d%%: %s\n\n", m.At.UTC().Format(time.TimeOnly), m.Weight, m.Verdict)
		for _, c := range []struct {
			what string
			c    *rollout.Counts
		}{{"since the weight began", m.Sample.Cumulative}, {"over the window", m.Sample.Window}} {
			if c.c != nil {
				fmt.Fprintf(b, "- Counts %s (%s): canary %.0f/%.0f errors, stable %.0f/%.0f errors\n", c.what, c.c.Span.D(),
					c.c.Canary.Errors, c.c.Canary.Requests, c.c.Stable.Errors, c.c.Stable.Requests)
			}
		}
		if rs := m.Judged(); len(rs) > 0 {
			b.WriteString("\n| rule | verdict | estimate | confidence bounds | limit | p | counts | reason |\n|---|---|---|---|---|---|---|---|\n")
			for _, r := range rs {
				est, bounds, limit, p, counts := r.Figures()
				name := r.Rule
				if r.Critical {
					name += " (critical)"
				}
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(name), cell(string(r.Verdict)), est, bounds, limit, p, counts, cell(r.Reason))
			}
		}
		if len(m.Sample.Custom) > 0 {
			b.WriteString("\nCustom metrics' queries:\n\n")
			for _, c := range m.Sample.Custom {
				if c.Err != "" {
					fmt.Fprintf(b, "- %s: query failed: %s\n", inline(c.Name), inline(c.Err))
				}
				for _, v := range c.Values {
					who := c.Name
					if v.Version != "" {
						who += " " + v.Version
					}
					fmt.Fprintf(b, "- %s = %s: `%s`\n", inline(who), rollout.Short(float64(v.Value)), code(v.Query))
				}
			}
		}
		b.WriteString("\n")
	}
}

func hasEvidence(m rollout.Measurement) bool {
	return len(m.Judged()) > 0 || len(m.Sample.Custom) > 0 || m.Sample.Cumulative != nil || m.Sample.Window != nil
}
