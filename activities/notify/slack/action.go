package slack

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/canaryflow/canaryflow/rollout"
)

// Action IDs of the approval message's buttons. The Socket Mode handler
// (package slackapp) answers these two and nothing else.
const (
	ActionApprove = "canaryflow.approve"
	ActionAbort   = "canaryflow.abort"
)

// ErrInvalidAction marks a button click whose action ID or value is not one
// this notifier could have written. A value comes back from Slack's side, so
// whoever can craft an interaction payload chooses it: it is checked, never
// trusted, before anything is sent to Temporal.
var ErrInvalidAction = errors.New("not a canaryflow button")

const (
	// maxActionValue is far above the longest value written here (two
	// 63-byte labels, the prefix, a dot, "@" and a step) and far below
	// Slack's 2000-character limit: anything longer was not ours.
	maxActionValue = 160
	// stepMark separates the workflow ID from the step in an Approve value;
	// it cannot occur in a workflow ID (labels, '-', '.' and '_' only).
	stepMark = '@'
	// maxLabel is the length limit of a DNS-1123 label.
	maxLabel = 63
	// workflowIDPrefix is rollout.WorkflowID's prefix; checked again below
	// by rebuilding the ID with rollout.WorkflowID.
	workflowIDPrefix = "canary-"
)

// Action is a parsed button click: which action, on which rollout, and for
// an approval the step it was asked for (nil when the message named none,
// which approves whatever step waits, as `approve` without --step does).
type Action struct {
	// Name is rollout.SignalApprove or rollout.SignalAbort.
	Name       string
	WorkflowID string
	Step       *int
}

// approveValue is the Approve button's value: the workflow ID and, when
// known, the step the message asks about.
func approveValue(workflowID string, step int) string {
	if step <= 0 {
		return workflowID
	}
	return workflowID + string(stepMark) + strconv.Itoa(step)
}

// ParseAction checks a clicked button's action ID and value and returns what
// it asks for. Only values approveValue and the Abort button write pass: a
// workflow ID of the form canary-<namespace>.<app> with both parts valid
// DNS-1123 labels (so it is rollout.WorkflowID of that pair and no other
// workflow's ID), and for Approve an optional step from 1 to
// rollout.MaxSteps. Every refusal wraps ErrInvalidAction.
func ParseAction(actionID, value string) (Action, error) {
	if len(value) > maxActionValue {
		return Action{}, fmt.Errorf("%w: value of %d bytes (at most %d)", ErrInvalidAction, len(value), maxActionValue)
	}
	var a Action
	switch actionID {
	case ActionApprove:
		a.Name = rollout.SignalApprove
		if id, step, ok := strings.Cut(value, string(stepMark)); ok {
			n, err := parseStep(step)
			if err != nil {
				return Action{}, err
			}
			value, a.Step = id, &n
		}
	case ActionAbort:
		a.Name = rollout.SignalAbort
	default:
		return Action{}, fmt.Errorf("%w: unknown action ID %q", ErrInvalidAction, rollout.Clip(actionID, 64))
	}
	if err := checkWorkflowID(value); err != nil {
		return Action{}, err
	}
	a.WorkflowID = value
	return a, nil
}

// parseStep accepts a decimal step number without sign or leading zeros.
func parseStep(s string) (int, error) {
	if s == "" || len(s) > len(strconv.Itoa(rollout.MaxSteps)) || s[0] == '0' || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: step %q is not a number from 1 to %d", ErrInvalidAction, s, rollout.MaxSteps)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > rollout.MaxSteps {
		return 0, fmt.Errorf("%w: step %q is not a number from 1 to %d", ErrInvalidAction, s, rollout.MaxSteps)
	}
	return n, nil
}

// checkWorkflowID accepts exactly the IDs rollout.WorkflowID gives for a
// valid namespace and app. Escaped IDs ("_2f" and the like) come only from
// names validation refuses, so they are refused here too.
func checkWorkflowID(id string) error {
	rest, ok := strings.CutPrefix(id, workflowIDPrefix)
	if !ok {
		return fmt.Errorf("%w: %q is not a canary rollout's workflow ID (canary-<namespace>.<app>)", ErrInvalidAction, id)
	}
	ns, app, ok := strings.Cut(rest, ".")
	if !ok || !isLabel(ns) || !isLabel(app) || rollout.WorkflowID(ns, app) != id {
		return fmt.Errorf("%w: %q is not a canary rollout's workflow ID (canary-<namespace>.<app>, both DNS-1123 labels)", ErrInvalidAction, id)
	}
	return nil
}

// isLabel reports whether s is a DNS-1123 label: 1 to 63 lower-case letters,
// digits and '-', starting and ending with a letter or digit.
func isLabel(s string) bool {
	if s == "" || len(s) > maxLabel || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
