// Package incident renders a rollback's incident report, as Markdown for
// people and as JSON for tools (ticketing, post-mortem templates). The
// worker writes both files when a rollout rolls back, and `starter report`
// prints the same renderings from the rollout's status, so what an on-call
// engineer reads in the terminal is what was filed.
package incident

import (
	"fmt"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// Schema names the JSON report's format, so a consumer can tell a later
// format apart instead of misreading it.
const Schema = "canaryflow/incident/v1"

// Report is the incident as both renderings present it: who, what, why, the
// evidence and the timeline. Its JSON field names are a contract for tools.
type Report struct {
	Schema    string `json:"schema"`
	RolloutID string `json:"rolloutID"`
	RunID     string `json:"runID"`
	App       string `json:"app"`
	Namespace string `json:"namespace"`
	Stable    string `json:"stableVersion"`
	Canary    string `json:"canaryVersion"`
	// Outcome is the rollout's phase when the report was made.
	Outcome rollout.Phase `json:"outcome"`
	Reason  string        `json:"reason,omitempty"`
	// Step, StepCount and StepName say how far the plan got (Step counts from 1).
	Step      int    `json:"step"`
	StepCount int    `json:"stepCount"`
	StepName  string `json:"stepName,omitempty"`
	// WeightAtRollback is the canary's share of traffic when the rollback
	// began, the figure people ask first ("how many users saw it?");
	// WeightNow is what it is as the report is made (0 once rolled back).
	WeightAtRollback int `json:"weightAtRollback"`
	WeightNow        int `json:"weightNow"`
	// Left lists what compensation could not undo (RollbackFailed).
	Left             []string             `json:"left,omitempty"`
	RollbackAttempts int                  `json:"rollbackAttempts,omitempty"`
	Resolution       *rollout.Resolution  `json:"resolution,omitempty"`
	ApprovedBy       []string             `json:"approvedBy,omitempty"`
	Smoke            []rollout.SmokeCheck `json:"smoke,omitempty"`
	// Measurements are the last ones the status kept, oldest first, with
	// their figures, verdicts, reasons and resolved queries.
	Measurements []rollout.Measurement `json:"measurements,omitempty"`
	// MeasurementsTaken counts all of them, including those no longer kept.
	MeasurementsTaken int             `json:"measurementsTaken"`
	Timeline          []rollout.Event `json:"timeline"`
	// EventsLogged counts every event, including those dropped from a long log.
	EventsLogged int `json:"eventsLogged"`
}

// New builds the report of an incident from the rollout's status.
func New(in rollout.Incident) Report {
	s := in.Status
	r := Report{
		Schema: Schema, RolloutID: in.RolloutID, RunID: in.RunID,
		App: s.App, Namespace: s.Namespace, Stable: s.Stable.Version, Canary: s.Canary.Version,
		Outcome: s.Phase, Reason: s.Reason, Step: s.Step, StepCount: s.StepCount, StepName: s.StepName,
		WeightAtRollback: weightAtRollback(s), WeightNow: s.Weight,
		Left: s.Left, RollbackAttempts: s.RollbackAttempts, Resolution: s.Resolution, ApprovedBy: s.ApprovedBy,
		Measurements: s.Measurements, MeasurementsTaken: s.MeasurementsTaken,
		Timeline: s.Events, EventsLogged: s.EventsLogged,
	}
	if s.Smoke != nil {
		r.Smoke = s.Smoke.Checks
	}
	if r.Timeline == nil {
		r.Timeline = []rollout.Event{}
	}
	return r
}

// weightAtRollback is the last weight set before the first "rollback" event
// (compensation sets it to 0 before the report is written, so the status'
// weight alone would always read 0). Without such events — a report made
// from a bare status — the last measured weight, then the current one, stand in.
func weightAtRollback(s rollout.Status) int {
	w, seen := 0, false
	for _, e := range s.Events {
		if e.Kind == "rollback" {
			if seen {
				return w
			}
			break
		}
		var n int
		if e.Kind == "weight" {
			if _, err := fmt.Sscanf(e.Message, "canary weight %d%%", &n); err == nil {
				w, seen = n, true
			}
		}
	}
	if m, ok := s.LastMeasurement(); ok && m.Weight > s.Weight {
		return m.Weight
	}
	return s.Weight
}

// timeOf renders a timestamp for the report: UTC, so readers in several
// time zones quote the same times.
func timeOf(t time.Time) string { return t.UTC().Format(time.RFC3339) }
