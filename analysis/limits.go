package analysis

import (
	"fmt"
	"strings"

	"github.com/canaryflow/canaryflow/rollout"
)

// Counters are a rollout's measurement counters under analysis.limits:
// failed looks in all, inconclusive looks and measurement errors in a row.
// The workflow carries them across continue-as-new; Count is the only
// place they change, so the limit rules are tested here, not in the
// workflow.
type Counters struct {
	Failures     int `json:"failures,omitempty"`
	Inconclusive int `json:"inconclusive,omitempty"`
	ErrorsInARow int `json:"errorsInARow,omitempty"`
}

// Count adds measurement m to c under limits l and returns the new
// counters and, when a limit is now exceeded, the rollback cause a person
// reads. A look the sequential judge left Inconclusive (m.Rules set) is
// "not enough data yet": the hold is extended for it, so it counts toward
// no limit and only ends a run of errors. Limits are the spec's after
// defaults (every pointer set); a nil one counts as 0.
func Count(l rollout.Limits, c Counters, m rollout.Measurement) (Counters, string) {
	why := strings.Join(m.Reasons, "; ")
	switch m.Verdict {
	case rollout.Successful:
		c.Inconclusive, c.ErrorsInARow = 0, 0
	case rollout.Failed:
		c.Failures++
		c.ErrorsInARow = 0
		if c.Failures > limit(l.MaxFailures) {
			return c, fmt.Sprintf("analysis failed at %d%% canary weight: %s", m.Weight, why)
		}
	case rollout.Inconclusive:
		c.ErrorsInARow = 0
		if m.Rules != nil {
			return c, ""
		}
		c.Inconclusive++
		if c.Inconclusive > limit(l.MaxInconclusive) {
			return c, fmt.Sprintf("analysis inconclusive %d times in a row at %d%% canary weight (limit %d): %s",
				c.Inconclusive, m.Weight, limit(l.MaxInconclusive), why)
		}
	case rollout.Error:
		c.ErrorsInARow++
		if c.ErrorsInARow > limit(l.MaxConsecutiveErrors) {
			return c, fmt.Sprintf("metrics unavailable: %d measurement errors in a row (limit %d): %s",
				c.ErrorsInARow, limit(l.MaxConsecutiveErrors), why)
		}
	}
	return c, ""
}

func limit(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
