package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// plan is a validated spec laid out in time: when each step begins if
// nothing fails and every approval comes at once, and how long the whole
// rollout takes. It is what `starter plan` shows before anything starts, so
// a reviewer sees "50 % of traffic for 15 minutes" rather than YAML.
type plan struct {
	RolloutID string     `json:"rolloutID"`
	App       string     `json:"app"`
	Namespace string     `json:"namespace"`
	Stable    string     `json:"stableVersion"`
	Canary    string     `json:"canaryVersion"`
	Interval  string     `json:"analysisInterval"`
	Steps     []planStep `json:"steps"`
	// Total is the time from the first step to promotion when every
	// approval comes at once and no hold is extended: holds, analysis gates
	// and the final measurement. Deploying, smoke tests and promotion add
	// what the deployer takes.
	Total string `json:"total"`
	// Longest is the time the plan may take at most, with approval timeouts
	// and extended holds; empty when an approval wait has no timeout.
	Longest string `json:"longest,omitempty"`
	// Approvals counts the steps that wait for a person.
	Approvals int `json:"approvals"`
}

// planStep is one step with its offset from the start of the steps.
type planStep struct {
	Number int    `json:"number"`
	Step   string `json:"step"`
	// At is when the step begins, from the first step.
	At string `json:"at"`
	// Weight is the canary's share of traffic during the step.
	Weight int `json:"weight"`
	// Takes is how long the step lasts at least (0 for setWeight).
	Takes string `json:"takes"`
	// Note says what the step waits for, if anything.
	Note string `json:"note,omitempty"`
}

// planOf lays a spec (defaults applied, validated) out in time.
func planOf(s rollout.Spec) plan {
	interval := s.Analysis.Interval.D()
	sequential := s.Analysis.Judging.Method == rollout.MethodSequential
	p := plan{RolloutID: rollout.WorkflowID(s.Namespace, s.App), App: s.App, Namespace: s.Namespace,
		Stable: s.Stable.Version, Canary: s.Canary.Version, Interval: interval.String()}
	var at, longest time.Duration
	bounded, weight := true, 0
	for i, st := range s.Steps {
		ps := planStep{Number: i + 1, Step: st.Describe(), At: at.String()}
		var takes, most time.Duration
		switch {
		case st.SetWeight != nil:
			weight = *st.SetWeight
		case st.Pause != nil && st.Pause.Duration > 0:
			takes = st.Pause.Duration.D()
			most = takes
			if sequential && weight > 0 {
				ext := s.Analysis.Extension(takes)
				most += ext
				ps.Note = fmt.Sprintf("extended by up to %s while the judgement is undecided", ext)
			}
		case st.Pause != nil:
			p.Approvals++
			if st.Pause.Timeout > 0 {
				most = st.Pause.Timeout.D()
				ps.Note = fmt.Sprintf("waits for approval, at most %s, then %s", most, st.Pause.OnTimeout)
			} else {
				bounded = false
				ps.Note = "waits for approval (starter approve)"
			}
		case st.Analysis != nil:
			takes = time.Duration(st.Analysis.Measurements) * interval
			most = takes
			ps.Note = fmt.Sprintf("needs %d successful measurements in a row", st.Analysis.Measurements)
		}
		ps.Weight, ps.Takes = weight, takes.String()
		p.Steps = append(p.Steps, ps)
		at += takes
		longest += most
	}
	// Before promotion one more measurement at the last weight must pass.
	at += interval
	longest += interval
	p.Total = at.String()
	if bounded {
		p.Longest = longest.String()
	}
	return p
}

// text renders the plan as a timeline for a terminal.
func (p plan) text(file string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan for %s/%s: %s → %s (rollout %s)\n", p.Namespace, p.App, p.Stable, p.Canary, p.RolloutID)
	fmt.Fprintf(&b, "canary and stable are measured every %s from the first non-zero weight\n\n", p.Interval)
	fmt.Fprintf(&b, "%10s  %-4s %-44s %s\n", "at", "step", "", "canary weight")
	fmt.Fprintf(&b, "%10s  %-4s %-44s %s %3d%%\n", "0s", "", "deploy the canary at weight 0, smoke-test it", bar(0, 20), 0)
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "%10s  %-4s %-44s %s %3d%%\n", s.At, fmt.Sprintf("%d.", s.Number), s.Step, bar(s.Weight, 20), s.Weight)
		if s.Note != "" {
			fmt.Fprintf(&b, "%10s  %-4s   %s\n", "", "", s.Note)
		}
	}
	last := 0
	if n := len(p.Steps); n > 0 {
		last = p.Steps[n-1].Weight
	}
	fmt.Fprintf(&b, "%10s  %-4s %s\n", "", "", fmt.Sprintf("final measurement at %d%% (one interval), then promote", last))
	fmt.Fprintf(&b, "%10s  %-4s %s\n\n", p.Total, "", "promoted: stable runs "+p.Canary)
	fmt.Fprintf(&b, "total: %s", p.Total)
	switch {
	case p.Approvals > 0 && p.Longest == "":
		if p.Approvals == 1 {
			b.WriteString(" plus the wait for the approval (no timeout)")
		} else {
			fmt.Fprintf(&b, " plus the waits for %d approvals (some without a timeout)", p.Approvals)
		}
	case p.Longest != "" && p.Longest != p.Total:
		fmt.Fprintf(&b, " to %s (approval timeouts, extended holds)", p.Longest)
	}
	b.WriteString(", plus deploying, smoke tests and promotion\n")
	fmt.Fprintf(&b, "nothing was started; to start it: starter start -f %s\n", file)
	return b.String()
}

// bar draws a share (0–100) as a bar of width cells.
func bar(percent, width int) string {
	percent = max(0, min(percent, 100))
	full := (percent*width + 50) / 100
	return "[" + strings.Repeat("█", full) + strings.Repeat("░", width-full) + "]"
}
