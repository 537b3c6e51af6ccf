package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	"github.com/canaryflow/canaryflow/rollout"
)

// badPayloads are signal payloads the SDK cannot decode into the signal's
// type: each once wedged the workflow task (panic on every retry).
func badPayloads() map[string]any {
	return map[string]any{
		"bare number":       5,
		"string for a step": map[string]any{"step": "two", "by": 7},
		"object for by":     map[string]any{"by": map[string]any{"x": 1}},
		"array":             []int{1, 2, 3},
		"unknown encoding": converter.NewRawValue(&commonpb.Payload{
			Metadata: map[string][]byte{"encoding": []byte("binary/x-mallory")}, Data: []byte{0xff, 0x00},
		}),
		"invalid json": converter.NewRawValue(&commonpb.Payload{
			Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`{"step":`),
		}),
	}
}

func TestUndecodableSignalsAreIgnoredAndAbortStillWorks(t *testing.T) {
	signals := []string{rollout.SignalApprove, rollout.SignalPromote, rollout.SignalPause, rollout.SignalResume,
		rollout.SignalRetryRollback, rollout.SignalResolve}
	for name, payload := range badPayloads() {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			for _, sig := range signals {
				h.signal(11*time.Minute, sig, payload)
			}
			h.at(12*time.Minute, func() {
				s := h.status() // the query answers: the workflow task is not wedged
				assert.Equal(t, rollout.PhaseProgressing, s.Phase)
				assert.False(t, s.Paused, "an undecodable pause changes nothing")
			})
			h.signal(13*time.Minute, rollout.SignalAbort, rollout.Abort{Reason: "after junk", By: "ops"})
			h.run(testSpec())
			assert.Equal(t, "aborted by ops: after junk", h.requireRolledBack())
			s := h.status()
			ignored := 0
			for _, e := range s.Events {
				if e.Kind == "ignored" && strings.Contains(e.Message, "payload is not") {
					ignored++
				}
			}
			assert.Equal(t, len(signals), ignored, "every bad payload is recorded as ignored with its reason: %v", s.Events)
			assert.Equal(t, []int{0, 10, 0}, h.router.History())
		})
	}
}

func TestAnAbortWhosePayloadDoesNotDecodeStillAborts(t *testing.T) {
	h := newHarness(t, nil)
	h.signal(12*time.Minute, rollout.SignalAbort, 42)
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Contains(t, reason, "payload is not {reason, by}")
}

func TestCancellationAfterJunkSignalsStillCompensates(t *testing.T) {
	h := newHarness(t, nil)
	h.signal(11*time.Minute, rollout.SignalApprove, 5)
	h.signal(11*time.Minute, rollout.SignalPause, []string{"x"})
	h.at(20*time.Minute, func() { h.env.CancelWorkflow() })
	h.run(testSpec())
	var canceled *temporal.CanceledError
	require.True(t, errors.As(h.env.GetWorkflowError(), &canceled), "want cancelled, got %v", h.env.GetWorkflowError())
	h.requireCompensated()
}

// rejected checks a start was refused with nothing touched and returns the reason.
func (h *harness) rejected(errType string) string {
	h.t.Helper()
	var app *temporal.ApplicationError
	require.True(h.t, errors.As(h.env.GetWorkflowError(), &app), "want a refusal, got %v", h.env.GetWorkflowError())
	require.Equal(h.t, errType, app.Type())
	var res Result
	require.NoError(h.t, app.Details(&res))
	require.Equal(h.t, rollout.PhaseRejected, res.Phase)
	require.Empty(h.t, h.router.History(), "no weight touched")
	require.Empty(h.t, h.deploy.Calls(), "nothing deployed")
	return res.Reason
}

func TestAResumeBlockFromOutsideIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	spec.Steps = []rollout.Step{rollout.Weight(150)} // would be invalid
	spec.Steps[0].SetWeight = new(int)
	*spec.Steps[0].SetWeight = 150
	h.runInput(Input{Spec: spec, Resume: &Resume{Step: 0, Status: rollout.Status{App: "shop", Namespace: "prod", Weight: 150}, PromoteNow: true}})
	reason := h.rejected(ErrTypeInvalidSpec)
	assert.Contains(t, reason, "steps[0].setWeight")

	h = newHarness(t, nil)
	h.runInput(Input{Spec: testSpec(), Resume: &Resume{Step: 0, Status: rollout.Status{App: "shop", Namespace: "prod"}, PromoteNow: true}})
	assert.Contains(t, h.rejected(ErrTypeRejected), "resume is carried only by a rollout continuing as new")
}

func TestACarriedResumeThatDoesNotFitIsRolledBack(t *testing.T) {
	// A continued run is ours and may have traffic on its canary: state this
	// code refuses is rolled back to a known state, never left as it is.
	stricter := testSpec()
	stricter.Analysis.Limits.MaxInconclusive = new(int)
	*stricter.Analysis.Limits.MaxInconclusive = 500 // allowed once, refused now
	status := rollout.Status{App: "shop", Namespace: "prod", Weight: 25, Phase: rollout.PhaseProgressing}
	for name, in := range map[string]Input{
		"negative step":    {Spec: testSpec(), Resume: &Resume{Step: -1, Status: status}},
		"step past end":    {Spec: testSpec(), Resume: &Resume{Step: 99, Status: status}},
		"weight 150":       {Spec: testSpec(), Resume: &Resume{Step: 1, Status: rollout.Status{App: "shop", Namespace: "prod", Weight: 150}}},
		"another app":      {Spec: testSpec(), Resume: &Resume{Step: 1, Status: rollout.Status{App: "other", Namespace: "prod"}}},
		"approved -3":      {Spec: testSpec(), Resume: &Resume{Step: 1, Approved: []int{-3}, Status: status}},
		"negative gate":    {Spec: testSpec(), Resume: &Resume{Step: 1, GateOK: -1, Status: status}},
		"huge per run":     {Spec: testSpec(), MeasurementsPerRun: 1 << 30, Resume: &Resume{Step: 1, Status: status}},
		"spec now refused": {Spec: stricter, Resume: &Resume{Step: 1, Status: status}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			require.NoError(t, h.router.SetWeight(context.Background(), testSpec(), 25))
			h.env.SetContinuedExecutionRunID("previous-run")
			h.runInput(in)
			reason := h.requireRolledBack()
			assert.Contains(t, reason, "refuses the rollout it continues")
		})
	}
}

func TestAWorkflowIDThatIsNotTheSpecsIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "canary-prod-shop"})
	h.env.ExecuteWorkflow(CanaryRollout, Input{Spec: testSpec()})
	require.True(t, h.env.IsWorkflowCompleted())
	assert.Contains(t, h.rejected(ErrTypeRejected), `workflow ID "canary-prod-shop" is not the one`)
}

func TestAGateOnThinTrafficContinuesAsNewWithItsCount(t *testing.T) {
	// Successful and Inconclusive alternate: the gate never passes and never
	// hits the inconclusive limit, so only the history bound stops the run.
	h := newHarness(t, func(n int) (rollout.Sample, error) {
		if n%2 == 0 {
			return metricsmem.With(func(c *rollout.VersionFigures) { c.RequestRate = 0.01 }), nil
		}
		return metricsmem.Healthy(), nil
	})
	spec := testSpec()
	spec.Steps = []rollout.Step{rollout.Weight(10), rollout.Gate(3)}
	h.runInput(Input{Spec: spec, MeasurementsPerRun: 20})
	in := h.continued()
	require.NotNil(t, in.Resume)
	assert.Equal(t, 1, in.Resume.Step, "the gate's step")
	assert.True(t, in.Resume.Begun)
	assert.LessOrEqual(t, in.Resume.Status.MeasurementsTaken, 21)
}

func TestManyStepsContinueAsNewWhenTheServerSuggestsIt(t *testing.T) {
	h := newHarness(t, nil)
	spec := testSpec()
	spec.Steps = nil
	for w := 1; w <= 60; w++ {
		spec.Steps = append(spec.Steps, rollout.Weight(w))
	}
	h.env.SetContinueAsNewSuggested(true)
	h.runInput(Input{Spec: spec})
	in := h.continued()
	assert.Equal(t, 1, in.Resume.Step, "continues before the second step begins")
	assert.False(t, in.Resume.Begun)
	assert.Equal(t, 1, in.Resume.Status.Weight)
}

func TestFreeTextIsCutOnEntryAndStatusStaysBounded(t *testing.T) {
	h := newHarness(t, nil)
	huge := strings.Repeat("A", 800*1024)
	for i := range 400 {
		h.signal(11*time.Minute+time.Duration(i)*time.Millisecond, rollout.SignalApprove, rollout.Approval{By: huge})
	}
	h.signal(12*time.Minute, rollout.SignalAbort, rollout.Abort{Reason: huge, By: huge})
	h.run(testSpec())
	reason := h.requireRolledBack()
	assert.Less(t, len(reason), rollout.MaxReasonBytes+rollout.MaxByBytes+64)
	s := h.status()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Less(t, len(b), 1<<20, "the status query stays under 1 MiB")
	for _, e := range s.Events {
		assert.LessOrEqual(t, len(e.By), rollout.MaxByBytes)
		assert.LessOrEqual(t, len(e.Message), rollout.MaxMessageBytes)
	}
	report, err := os.ReadFile(s.IncidentReport)
	require.NoError(t, err)
	assert.Less(t, len(report), 1<<20, "the incident report stays bounded")
}

func TestStartKnobsOutsideTheirRangeAreRefused(t *testing.T) {
	for name, in := range map[string]Input{
		"rollbackRetryFor below 1s":   {Spec: testSpec(), RollbackRetryFor: rollout.Duration(time.Millisecond)},
		"rollbackRetryFor above 24h":  {Spec: testSpec(), RollbackRetryFor: rollout.Duration(48 * time.Hour)},
		"negative measurementsPerRun": {Spec: testSpec(), MeasurementsPerRun: -1},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.runInput(in)
			h.rejected(ErrTypeRejected)
		})
	}
}
