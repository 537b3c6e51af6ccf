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
}

// Incident is what a rollback's incident report is written from.
type Incident struct {
	RolloutID string `json:"rolloutID"`
	RunID     string `json:"runID"`
	Status    Status `json:"status"`
}
