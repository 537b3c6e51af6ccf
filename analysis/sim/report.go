package sim

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// WriteTable writes the decision table in Markdown: one row per scenario,
// rate and decider; interval is the time between looks.
func WriteTable(w io.Writer, cells []Cell, interval time.Duration) error {
	var b strings.Builder
	b.WriteString("| scenario | req/s | decider | rolled back | paused for a person | promoted | median time to rollback | median time to pause | median canary requests at decision | rollbacks by rule |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, c := range cells {
		for _, s := range c.Deciders {
			fmt.Fprintf(&b, "| %s | %g | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				c.Case.Name, c.Rate, s.Decider, pctText(s, s.RolledBack), pctText(s, s.Paused), pctText(s, s.Prom),
				minutes(s.MedianRollbackLook*interval.Minutes()), minutes(s.MedianPauseLook*interval.Minutes()),
				count(s.MedianRequests), rulesText(s.Rules))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteRequests writes, for the scenarios with a bad canary, the canary
// requests each judge configuration had seen when it decided (rolled back,
// stopped for a person or promoted) and when it rolled back, against today's
// rules, with the ratios (judge ÷ today; above 1 the judge needed more).
func WriteRequests(w io.Writer, cells []Cell) error {
	var b strings.Builder
	b.WriteString("| scenario | req/s | decider | at decision | today's | ratio | rolled back | to rollback | today's | ratio |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range cells {
		if c.Case.Goal == Quiet || c.Case.Goal == NeverPromote {
			continue
		}
		today := c.Deciders[len(c.Deciders)-1]
		for _, s := range c.Deciders[:len(c.Deciders)-1] {
			fmt.Fprintf(&b, "| %s | %g | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Case.Name, c.Rate, s.Decider,
				count(s.MedianRequests), count(today.MedianRequests), ratioText(s.MedianRequests, today.MedianRequests),
				pctText(s, s.RolledBack), count(s.MedianRollbackRequests), count(today.MedianRollbackRequests),
				ratioText(s.MedianRollbackRequests, today.MedianRollbackRequests))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Check is one of the targets, met or not, with the figures behind it.
type Check struct {
	Target string
	Met    bool
	Detail string
}

// Targets checks each cell of the first judge variant (the one the
// workflow would use) against its case's goal.
func Targets(cells []Cell) []Check {
	var out []Check
	for _, c := range cells {
		if len(c.Deciders) < 2 {
			continue
		}
		j, today := c.Deciders[0], c.Deciders[len(c.Deciders)-1]
		where := fmt.Sprintf("%s at %g req/s", c.Case.Name, c.Rate)
		if c.Case.Extra {
			where += " (extra)"
		}
		switch c.Case.Goal {
		case Quiet:
			out = append(out, Check{
				Target: "false rollbacks ≤ 1 %: " + where, Met: j.Pct(j.RolledBack) <= 1,
				Detail: fmt.Sprintf("judge %s (today %s)", pctText(j, j.RolledBack), pctText(today, today.RolledBack)),
			})
		case Catch:
			if c.Rate < 10 {
				continue
			}
			caught := j.RolledBack + j.Paused
			out = append(out, Check{
				Target: "not promoted ≥ 99 %: " + where, Met: j.Pct(caught) >= 99,
				Detail: fmt.Sprintf("judge %s (rolled back %s, paused %s); today %s",
					pctText(j, caught), pctText(j, j.RolledBack), pctText(j, j.Paused), pctText(today, today.RolledBack)),
			})
		case NeverPromote:
			met := true
			for _, s := range c.Deciders {
				met = met && s.Prom == 0
			}
			out = append(out, Check{
				Target: "no promotion without data: " + where, Met: met,
				Detail: fmt.Sprintf("judge %d promoted, today %d promoted", j.Prom, today.Prom),
			})
		}
	}
	return out
}

// WriteTargets writes the checks as a Markdown list.
func WriteTargets(w io.Writer, checks []Check) error {
	var b strings.Builder
	for _, c := range checks {
		mark := "met"
		if !c.Met {
			mark = "**MISSED**"
		}
		fmt.Fprintf(&b, "- %s — %s: %s\n", mark, c.Target, c.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pctText(s Summary, n int) string { return fmt.Sprintf("%.1f %%", s.Pct(n)) }

func minutes(m float64) string {
	if math.IsNaN(m) {
		return "—"
	}
	return fmt.Sprintf("%g m", m)
}

func count(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}

func ratioText(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}
