package rollout

import (
	"errors"
	"time"
)

// Role says which of the two deployments a call is about.
type Role string

// The two roles. After promotion, stable runs what the canary ran.
const (
	RoleStable Role = "stable"
	RoleCanary Role = "canary"
)

// Outcomes providers report and callers tell apart with errors.Is.
var (
	// ErrNoData: the metrics source answered but had no series to judge by
	// (too little traffic, or a selector that matches nothing yet).
	ErrNoData = errors.New("no data")
	// ErrQueryFailed: the metrics source could not be asked or failed to answer.
	ErrQueryFailed = errors.New("metrics query failed")
	// ErrUnknownMetric: the metric the spec names does not exist at the source.
	ErrUnknownMetric = errors.New("unknown metric")
	// ErrPermanent marks an error retrying cannot fix (a refused request, a
	// missing resource); activities turn it into a non-retryable failure.
	ErrPermanent = errors.New("not retryable")
)

// Notification is one announcement to the team (Slack or the log).
type Notification struct {
	RolloutID string `json:"rolloutID"`
	App       string `json:"app"`
	Namespace string `json:"namespace"`
	Event     string `json:"event"`
	// Channel is the spec's notify.channel; empty means the notifier's default.
	Channel string    `json:"channel,omitempty"`
	Title   string    `json:"title"`
	Text    string    `json:"text"`
	At      time.Time `json:"at"`
	// Severity is info, warning or critical.
	Severity string `json:"severity"`
	// Thread is the notifier's handle on the rollout's conversation (for
	// Slack, the channel and timestamp of the rollout's first message): empty
	// until a Notify returns one, then carried by the workflow so that every
	// later message joins the same thread, across worker restarts and
	// continue-as-new. Only the notifier that returned it reads it.
	Thread string `json:"thread,omitempty"`

	// The rollout's position when the event happened, for notifiers that
	// show it (Slack's fields, and the step an Approve button approves).
	// Zero when the workflow did not fill them: notifiers leave them out.
	Stable string `json:"stable,omitempty"`
	Canary string `json:"canary,omitempty"`
	// Step counts from 1, as status shows it; on approval-needed it is the
	// step that waits, which the approval names so that a stale button
	// cannot release a later gate.
	Step      int `json:"step,omitempty"`
	StepCount int `json:"stepCount,omitempty"`
	Weight    int `json:"weight,omitempty"`
	// Measurement is the last one taken, so a rollback message can show
	// the figures it was judged on.
	Measurement *Measurement `json:"measurement,omitempty"`
}

// Incident is what a rollback's incident report is written from.
type Incident struct {
	RolloutID string `json:"rolloutID"`
	RunID     string `json:"runID"`
	Status    Status `json:"status"`
}
