package workflows

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/canaryflow/canaryflow/rollout"
)

// answer is what a caller of an Update learned: refused (with why), or
// completed with an answer or an error.
type answer struct {
	name     string
	refused  error
	accepted bool
	text     string
	err      error
	done     bool
}

// update sends an Update at d of workflow time and returns what came back.
func (h *harness) update(d time.Duration, name string, payload any) *answer {
	a := &answer{name: name}
	h.at(d, func() {
		h.env.UpdateWorkflow(name, fmt.Sprintf("%s-%s", name, d), &testsuite.TestUpdateCallback{
			OnAccept: func() { a.accepted = true },
			OnReject: func(err error) { a.refused, a.done = err, true },
			OnComplete: func(v any, err error) {
				a.err, a.done = err, true
				if s, ok := v.(string); ok {
					a.text = s
				}
			},
		}, payload)
	})
	return a
}

// requireRefused checks a validator refusal whose reason contains want.
func (a *answer) requireRefused(t *testing.T, want string) {
	t.Helper()
	require.True(t, a.done, "%s: no answer", a.name)
	require.False(t, a.accepted, "%s was accepted: %q", a.name, a.text)
	require.Error(t, a.refused, "%s was not refused", a.name)
	var app *temporal.ApplicationError
	require.True(t, errors.As(a.refused, &app), "%s: refusal is %T, not an ApplicationError", a.name, a.refused)
	assert.Equal(t, rollout.RefusedErrorType, app.Type())
	assert.Contains(t, app.Message(), want)
}

func (a *answer) requireAnswered(t *testing.T, want string) {
	t.Helper()
	require.True(t, a.done, "%s: no answer", a.name)
	require.NoError(t, a.refused, "%s refused", a.name)
	require.NoError(t, a.err)
	assert.True(t, a.accepted)
	assert.Contains(t, a.text, want)
}

func TestApproveAsAnUpdateIsAnsweredAndRefusalsLeaveNoTrace(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Hold(5 * time.Minute), rollout.ApprovalGate(0, ""), rollout.Weight(50), rollout.Hold(5 * time.Minute)}
	wrong, right := 4, 3
	early := h.update(3*time.Minute, rollout.SignalApprove, rollout.Approval{By: "erin"})
	stale := h.update(time.Hour, rollout.SignalApprove, rollout.Approval{Step: &wrong, By: "mallory"})
	ok := h.update(2*time.Hour, rollout.SignalApprove, rollout.Approval{Step: &right, By: "bob"})
	again := h.update(2*time.Hour+time.Minute, rollout.SignalApprove, rollout.Approval{By: "bob"})
	h.run(spec)
	h.requirePromoted()

	early.requireRefused(t, "nothing waits for approval; step 2/5 is a timed hold (pause 5m0s), ")
	assert.Contains(t, early.refused.Error(), "2m0s left", "the 5m hold began at once; 3m have passed")
	stale.requireRefused(t, "it names step 4 but step 3 is waiting")
	ok.requireAnswered(t, "step 3 approved by bob; the rollout continues")
	again.requireRefused(t, "nothing waits for approval")

	s := h.status()
	assert.NotContains(t, eventKinds(s), "ignored", "a refused Update is not recorded: it never reached history")
	assert.Equal(t, []string{"bob"}, s.ApprovedBy)
}

func TestEveryActionRefusesWhatDoesNotApplyAndAnswersWhatDoes(t *testing.T) {
	h := newHarness(t, nil)
	resume := h.update(2*time.Minute, rollout.SignalResume, rollout.Actor{By: "a"})
	retry := h.update(3*time.Minute, rollout.SignalRetryRollback, rollout.Actor{By: "a"})
	resolve := h.update(4*time.Minute, rollout.SignalResolve, rollout.Resolve{By: "a", Reason: "fixed"})
	pause := h.update(5*time.Minute, rollout.SignalPause, rollout.Actor{By: "carol"})
	pauseAgain := h.update(6*time.Minute, rollout.SignalPause, rollout.Actor{By: "carol"})
	resumed := h.update(7*time.Minute, rollout.SignalResume, rollout.Actor{By: "carol"})
	promote := h.update(8*time.Minute, rollout.SignalPromote, rollout.Actor{By: "dave"})
	late := h.update(24*time.Hour, rollout.SignalAbort, rollout.Abort{By: "eve"})
	h.run(testSpec())
	h.requirePromoted()

	resume.requireRefused(t, "the rollout is already running")
	retry.requireRefused(t, "only a RollbackFailed rollout retries its rollback")
	resolve.requireRefused(t, "only a RollbackFailed rollout is resolved by hand")
	pause.requireAnswered(t, "steps paused; analysis continues")
	pauseAgain.requireRefused(t, "already paused")
	resumed.requireAnswered(t, "steps resumed")
	promote.requireAnswered(t, "promoting now")
	// After the workflow has ended the Update has nothing to reach: the test
	// environment never calls back (a server answers "workflow completed").
	assert.False(t, late.accepted)
}

func TestAbortAsAnUpdateRollsBackAndSaysSo(t *testing.T) {
	h := newHarness(t, nil)
	abort := h.update(20*time.Minute, rollout.SignalAbort, rollout.Abort{By: "ops", Reason: "pager"})
	h.run(testSpec())
	reason := h.requireRolledBack()
	abort.requireAnswered(t, "aborted by ops: pager; rolling back")
	assert.Contains(t, reason, "aborted by ops: pager")
}

// An Update whose payload does not decode is refused by the SDK before the
// handler runs; the rollout carries on and still answers the next one.
func TestUpdatesWithHostilePayloadsAreRefusedAndTheRolloutCarriesOn(t *testing.T) {
	payloads := map[string]any{
		"a string":           "approve please",
		"a number":           42,
		"a list":             []int{1, 2, 3},
		"a wrong field type": map[string]any{"step": "three", "by": []string{"x"}},
	}
	for name, p := range payloads {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			bad := map[string]*answer{}
			for i, n := range rollout.Actions {
				bad[n] = h.update(time.Minute+time.Duration(i)*time.Second, n, p)
			}
			huge := h.update(2*time.Minute, rollout.SignalPause, rollout.Actor{By: strings.Repeat("é", 100_000)})
			abort := h.update(20*time.Minute, rollout.SignalAbort, rollout.Abort{By: "ops"})
			h.run(testSpec())
			h.requireRolledBack()
			for n, a := range bad {
				require.True(t, a.done, "%s: no answer", n)
				assert.Error(t, a.refused, "%s with %s was not refused", n, name)
				assert.False(t, a.accepted, n)
			}
			huge.requireAnswered(t, "steps paused")
			abort.requireAnswered(t, "aborted by ops")
			s := h.status()
			for _, e := range s.Events {
				assert.LessOrEqual(t, len(e.By), rollout.MaxByBytes, "who acted is clipped as it enters")
			}
		})
	}
}

// The same action sent as a signal and as an Update decides the same way:
// the signal that does not apply is recorded as ignored with the Update's reason.
func TestSignalsAndUpdatesShareTheirRules(t *testing.T) {
	h := newHarness(t, nil)
	h.signal(3*time.Minute, rollout.SignalResolve, rollout.Resolve{By: "a", Reason: "x"})
	u := h.update(4*time.Minute, rollout.SignalResolve, rollout.Resolve{By: "a", Reason: "x"})
	h.run(testSpec())
	h.requirePromoted()
	s := h.status()
	ignored := s.Events[indexOf(eventKinds(s), "ignored")]
	u.requireRefused(t, strings.TrimPrefix(ignored.Message, "resolve ignored: "))
}
