package slack

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

func TestParseActionTakesWhatTheButtonsWrite(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, c := range []struct {
		id, value, wf string
		name          string
		step          int
	}{
		{ActionApprove, "canary-prod.shop@3", "canary-prod.shop", rollout.SignalApprove, 3},
		{ActionApprove, "canary-prod.shop", "canary-prod.shop", rollout.SignalApprove, 0},
		{ActionApprove, "canary-team-a.web-2@100", "canary-team-a.web-2", rollout.SignalApprove, 100},
		{ActionAbort, "canary-prod.shop", "canary-prod.shop", rollout.SignalAbort, 0},
		{ActionAbort, "canary-" + long + "." + long, "canary-" + long + "." + long, rollout.SignalAbort, 0},
		{ActionApprove, approveValue(rollout.WorkflowID(long, long), rollout.MaxSteps), rollout.WorkflowID(long, long), rollout.SignalApprove, rollout.MaxSteps},
	} {
		a, err := ParseAction(c.id, c.value)
		require.NoError(t, err, c.value)
		assert.Equal(t, c.name, a.Name)
		assert.Equal(t, c.wf, a.WorkflowID)
		if c.step == 0 {
			assert.Nil(t, a.Step)
		} else {
			require.NotNil(t, a.Step)
			assert.Equal(t, c.step, *a.Step)
		}
	}
}

// Values come back from Slack, where whoever crafts an interaction payload
// chooses them: anything the buttons could not have written is refused.
func TestParseActionRefusesHostileValues(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, c := range []struct{ id, value string }{
		{ActionApprove, ""},
		{ActionApprove, strings.Repeat("x", 10_000)},
		{ActionApprove, "canary-prod.shop@" + strings.Repeat("1", 200)},
		{ActionApprove, "canary-" + long + ".shop"},                     // label too long
		{ActionApprove, "rollout-prod.shop"},                            // wrong prefix
		{ActionApprove, "temporal-sys-tq-scanner"},                      // another workflow's ID
		{ActionApprove, "incident-canary-prod.shop"},                    // prefix not at the start
		{ActionApprove, "canary-prod"},                                  // no app
		{ActionApprove, "canary-prod.shop.extra"},                       // a dot in the app
		{ActionApprove, "canary-.shop"},                                 // empty namespace
		{ActionApprove, "canary-prod."},                                 // empty app
		{ActionApprove, "canary--prod.shop"},                            // label starting with '-'
		{ActionApprove, "canary-Prod.shop"},                             // upper case
		{ActionApprove, "canary-team_2fa.web"},                          // escaped: a name validation refuses
		{ActionApprove, "canary-prod.shop\x00"},                         // NUL
		{ActionApprove, "canary-prod.shop\n"},                           // newline
		{ActionApprove, "canary-prod.shöp"},                             // non-ASCII
		{ActionApprove, "canary-prod.shop' OR '1'='1"},                  // injection
		{ActionApprove, `canary-prod.shop","by":"admin`},                // JSON injection
		{ActionApprove, "canary-prod.shop <!channel>"},                  // mention
		{ActionApprove, "canary-prod.shop@0"},                           // step from 1
		{ActionApprove, "canary-prod.shop@-1"},                          // sign
		{ActionApprove, "canary-prod.shop@+1"},                          // sign
		{ActionApprove, "canary-prod.shop@01"},                          // leading zero
		{ActionApprove, "canary-prod.shop@101"},                         // beyond MaxSteps
		{ActionApprove, "canary-prod.shop@"},                            // empty step
		{ActionApprove, "canary-prod.shop@1@2"},                         // two steps
		{ActionApprove, "canary-prod.shop@1e3"},                         // not decimal
		{ActionAbort, "canary-prod.shop@3"},                             // abort names no step
		{ActionAbort, "../../canary-prod.shop"},                         // path
		{"canaryflow.promote", "canary-prod.shop"},                      // not one of our buttons
		{"", "canary-prod.shop"},                                        // no action ID
		{strings.Repeat("canaryflow.approve", 100), "canary-prod.shop"}, // oversized action ID
	} {
		_, err := ParseAction(c.id, c.value)
		require.ErrorIs(t, err, ErrInvalidAction, "%q %q", c.id, c.value)
		assert.Less(t, len(err.Error()), 400, "the refusal does not echo an oversized value")
	}
}
