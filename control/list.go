package control

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/canaryflow/canaryflow/rollout"
)

// The rollout's search attributes (rollout/searchattrs.go), by the short
// names used below.
const (
	attrApp       = rollout.SearchAttrApp
	attrNamespace = rollout.SearchAttrNamespace
	attrPhase     = rollout.SearchAttrPhase
	attrWeight    = rollout.SearchAttrWeight
	attrVersion   = rollout.SearchAttrVersion
)

// workflowType is the rollout workflow's registered name (workflows.CanaryRollout).
const workflowType = "CanaryRollout"

// maxFilterBytes bounds a filter value: app and namespace are DNS-1123
// labels (63 bytes); anything much longer is a mistake or an attack.
const maxFilterBytes = 253

// Filter narrows List; empty fields match everything.
type Filter struct {
	App       string
	Namespace string
	Phase     rollout.Phase
	// Limit bounds how many rollouts are returned (newest first); 0 means 100.
	Limit int
}

// Summary is one rollout as visibility knows it, without asking its workflow.
type Summary struct {
	ID        string        `json:"id"`
	RunID     string        `json:"runID"`
	App       string        `json:"app,omitempty"`
	Namespace string        `json:"namespace,omitempty"`
	Phase     rollout.Phase `json:"phase,omitempty"`
	Weight    *int          `json:"weight,omitempty"`
	Version   string        `json:"canaryVersion,omitempty"`
	// Status is the workflow's own state: Running, Completed, Failed, ….
	Status  string     `json:"status"`
	Started time.Time  `json:"started"`
	Closed  *time.Time `json:"closed,omitempty"`
}

// Query is the visibility query for f. Every value is a quoted string
// literal with its quote and escape characters escaped, so no value can end
// the literal and add a condition of its own; values with control
// characters, invalid UTF-8 or past maxFilterBytes are refused, and a phase
// must be one of the phases.
func (f Filter) Query() (string, error) {
	conds := []string{"WorkflowType = " + quote(workflowType)}
	for _, kv := range []struct{ attr, flag, v string }{
		{attrApp, "app", f.App}, {attrNamespace, "namespace", f.Namespace},
	} {
		if kv.v == "" {
			continue
		}
		if err := filterValue(kv.flag, kv.v); err != nil {
			return "", err
		}
		conds = append(conds, kv.attr+" = "+quote(kv.v))
	}
	if f.Phase != "" {
		if !slices.Contains(Phases, f.Phase) {
			return "", fmt.Errorf("phase %q: must be one of %s", rollout.Clip(string(f.Phase), 64), strings.Join(PhaseNames(), ", "))
		}
		conds = append(conds, attrPhase+" = "+quote(string(f.Phase)))
	}
	return strings.Join(conds, " AND "), nil
}

// Phases lists every phase a rollout can be in, in the order they happen.
var Phases = []rollout.Phase{
	rollout.PhaseValidating, rollout.PhaseDeploying, rollout.PhaseSmokeTesting, rollout.PhaseProgressing,
	rollout.PhaseAwaitApproval, rollout.PhasePaused, rollout.PhasePromoting, rollout.PhasePromoted,
	rollout.PhaseRollingBack, rollout.PhaseRolledBack, rollout.PhaseRollbackFailed, rollout.PhaseRejected,
}

// PhaseNames is Phases as strings, for help texts and shell completion.
func PhaseNames() []string {
	names := make([]string, len(Phases))
	for i, p := range Phases {
		names[i] = string(p)
	}
	return names
}

func filterValue(flag, v string) error {
	switch {
	case len(v) > maxFilterBytes:
		return fmt.Errorf("%s: %d bytes long; the maximum is %d", flag, len(v), maxFilterBytes)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s: not valid UTF-8", flag)
	case strings.ContainsFunc(v, unicode.IsControl):
		return fmt.Errorf("%s: contains control characters", flag)
	}
	return nil
}

// quote writes v as a string literal of Temporal's visibility query
// language, which reads a backslash as an escape (\' is a quote, \\ a backslash).
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// List returns the rollouts visibility knows that match f, newest first. It
// reads visibility, which trails the workflows by a moment: a rollout
// started a second ago may not be listed yet.
func List(ctx context.Context, c client.Client, f Filter) ([]Summary, error) {
	q, err := f.Query()
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []Summary
	var token []byte
	for len(out) < limit {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			PageSize: int32(min(limit-len(out), 1000)), NextPageToken: token, Query: q,
		})
		if err != nil {
			return nil, fmt.Errorf("listing rollouts (%s): %w", q, err)
		}
		for _, info := range resp.GetExecutions() {
			out = append(out, summarize(info.GetExecution().GetWorkflowId(), info.GetExecution().GetRunId(),
				info.GetStatus().String(), info.GetStartTime().AsTime(), info.GetCloseTime(), info.GetSearchAttributes()))
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	return out[:min(len(out), limit)], nil
}

// summarize reads what visibility has; a search attribute the workflow has
// not set yet (or an older rollout never set) is left empty.
func summarize(id, runID, status string, started time.Time, closed *timestamppb.Timestamp, sa *commonpb.SearchAttributes) Summary {
	s := Summary{ID: id, RunID: runID, Status: status, Started: started}
	if closed != nil && closed.GetSeconds() > 0 {
		t := closed.AsTime()
		s.Closed = &t
	}
	fields := sa.GetIndexedFields()
	str := func(name string) string {
		var v string
		if p, ok := fields[name]; ok {
			_ = converter.GetDefaultDataConverter().FromPayload(p, &v)
		}
		return v
	}
	s.App, s.Namespace, s.Phase, s.Version = str(attrApp), str(attrNamespace), rollout.Phase(str(attrPhase)), str(attrVersion)
	if p, ok := fields[attrWeight]; ok {
		var w int
		if converter.GetDefaultDataConverter().FromPayload(p, &w) == nil {
			s.Weight = &w
		}
	}
	return s
}
