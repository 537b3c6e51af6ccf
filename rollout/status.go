package rollout

import "time"

// Phase is where a rollout is in its life.
type Phase string

// Phases. Promoted, RolledBack, RollbackFailed and Rejected are final for
// the steps: nothing moves on its own after them. RollbackFailed means
// compensation itself could not finish; the workflow stays open (its ID taken,
// so no rollout starts on a broken state) until a person sends retry-rollback
// or resolve.
const (
	PhaseValidating     Phase = "Validating"
	PhaseDeploying      Phase = "Deploying"
	PhaseSmokeTesting   Phase = "SmokeTesting"
	PhaseProgressing    Phase = "Progressing"
	PhaseAwaitApproval  Phase = "AwaitingApproval"
	PhasePaused         Phase = "Paused"
	PhasePromoting      Phase = "Promoting"
	PhasePromoted       Phase = "Promoted"
	PhaseRollingBack    Phase = "RollingBack"
	PhaseRolledBack     Phase = "RolledBack"
	PhaseRollbackFailed Phase = "RollbackFailed"
	// PhaseRejected: the spec was invalid; nothing was touched.
	PhaseRejected Phase = "Rejected"
)

// Final reports whether the rollout can no longer change.
func (p Phase) Final() bool {
	return p == PhasePromoted || p == PhaseRolledBack || p == PhaseRollbackFailed || p == PhaseRejected
}

// Signal and query names: the contract for `temporal workflow signal` and the UI.
const (
	SignalApprove = "approve"
	SignalAbort   = "abort"
	SignalPromote = "promote"
	SignalPause   = "pause"
	SignalResume  = "resume"
	// SignalRetryRollback asks a RollbackFailed rollout to try compensation again.
	SignalRetryRollback = "retry-rollback"
	// SignalResolve tells a RollbackFailed rollout that a person has put
	// things right by hand; the workflow then ends, freeing the rollout's ID.
	SignalResolve = "resolve"
	QueryStatus   = "status"
)

// Actions are the signal names that are also Temporal Updates: the same
// action, but the caller gets an answer, and a refusal leaves no trace in
// history. ActionNames lists them for error messages.
var Actions = []string{SignalApprove, SignalAbort, SignalPromote, SignalPause, SignalResume, SignalRetryRollback, SignalResolve}

// ActionNames is Actions as a sentence fragment, for errors that list what is allowed.
const ActionNames = "approve, abort, promote, pause, resume, retry-rollback, resolve"

// RefusedErrorType is the ApplicationError type an Update's validator
// returns when its action does not apply now.
const RefusedErrorType = "Refused"

// IsAction reports whether name is one of Actions.
func IsAction(name string) bool {
	for _, a := range Actions {
		if a == name {
			return true
		}
	}
	return false
}

// Approval is the approve signal's payload. Step, when set, must be the
// number (from 1, as status shows it) of the step that is waiting, so a stale
// approval cannot release a later gate.
type Approval struct {
	Step *int   `json:"step,omitempty"`
	By   string `json:"by,omitempty"`
}

// Abort is the abort signal's payload.
type Abort struct {
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// Resolve is the resolve signal's payload: who decided and why. Both are
// required, because a resolution is what the audit trail is read for.
type Resolve struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// Resolution records how a person closed a RollbackFailed rollout.
type Resolution struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
}

// Actor is the optional payload of promote, pause, resume and retry-rollback.
type Actor struct {
	By string `json:"by,omitempty"`
}

// Event is one line of a rollout's log: what happened, when, by whom.
type Event struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
	By      string    `json:"by,omitempty"`
}

// SmokeCheck is one smoke test with the figure it was judged on.
type SmokeCheck struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Figure string `json:"figure"`
	Detail string `json:"detail,omitempty"`
}

// SmokeReport is the smoke test's result.
type SmokeReport struct {
	Checks []SmokeCheck `json:"checks"`
}

// Passed reports whether every check passed.
func (r SmokeReport) Passed() bool {
	for _, c := range r.Checks {
		if !c.Passed {
			return false
		}
	}
	return len(r.Checks) > 0
}

// Failures lists the failed checks as "name: figure (detail)".
func (r SmokeReport) Failures() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.Passed {
			s := c.Name + ": " + c.Figure
			if c.Detail != "" {
				s += " (" + c.Detail + ")"
			}
			out = append(out, s)
		}
	}
	return out
}

// Status is what the status query returns.
type Status struct {
	App       string  `json:"app"`
	Namespace string  `json:"namespace"`
	Stable    Release `json:"stable"`
	Canary    Release `json:"canary"`
	Phase     Phase   `json:"phase"`
	Paused    bool    `json:"paused"`
	// Step is the current step's number, counting from 1 as people do; 0 before the first.
	Step          int       `json:"step"`
	StepCount     int       `json:"stepCount"`
	StepName      string    `json:"stepName,omitempty"`
	StepStartedAt time.Time `json:"stepStartedAt"`
	Weight        int       `json:"weight"`
	// WeightSince is when the current weight was set: sequential judgement
	// counts every request since then.
	WeightSince time.Time `json:"weightSince"`
	// Judge is the sequential judgement's state at the current weight.
	Judge        JudgeState    `json:"judge"`
	Smoke        *SmokeReport  `json:"smoke,omitempty"`
	Measurements []Measurement `json:"measurements,omitempty"`
	// MeasurementsTaken counts every measurement, including those dropped
	// from Measurements, so a watcher knows how many are new.
	MeasurementsTaken int      `json:"measurementsTaken"`
	ApprovedBy        []string `json:"approvedBy,omitempty"`
	// Reason says why the rollout is rolling back or rolled back.
	Reason string  `json:"reason,omitempty"`
	Events []Event `json:"events"`
	// EventsLogged counts every event, including those dropped from a long log.
	EventsLogged int `json:"eventsLogged"`
	// IncidentReport is where the rollback's report was written.
	IncidentReport string `json:"incidentReport,omitempty"`
	// Left lists what compensation could not do, while RollbackFailed.
	Left []string `json:"left,omitempty"`
	// RollbackAttempts counts the rounds of compensation tried.
	RollbackAttempts int `json:"rollbackAttempts,omitempty"`
	// Resolution is set when a person closed a RollbackFailed rollout.
	Resolution *Resolution `json:"resolution,omitempty"`
}

// LastMeasurement returns the most recent measurement, if any.
func (s Status) LastMeasurement() (Measurement, bool) {
	if len(s.Measurements) == 0 {
		return Measurement{}, false
	}
	return s.Measurements[len(s.Measurements)-1], true
}
