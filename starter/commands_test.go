package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/incident"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

const (
	quickSteps = "  - setWeight: 10\n  - pause: {duration: 2s}\n  - setWeight: 50\n  - pause: {duration: 1s}\n"
	gateSteps  = "  - setWeight: 10\n  - pause: {}\n  - setWeight: 50\n  - pause: {}\n"
)

// Every command against a real Temporal dev server and a real worker. The
// rollouts are independent (one app each), so the scenarios run in parallel.
func TestCommandsOnARealServer(t *testing.T) {
	metrics := metricsmem.New(nil)
	metrics.ByApp["bad"] = func(n int) (rollout.Sample, error) {
		if n > 2 {
			return metricsmem.With(func(c *rollout.VersionFigures) { c.ErrorRate = 0.2 }), nil
		}
		return metricsmem.Healthy(), nil
	}
	s := startServer(t, metrics, "stuck")

	t.Run("parallel", func(t *testing.T) {
		t.Run("start, status, history, watch: promoted", func(t *testing.T) {
			t.Parallel()
			file := s.spec(t, "good", quickSteps)
			out := s.ok(t, "start", "-f", file, "--by", "ci")
			assert.Contains(t, out, "started rollout canary-cli.good (run ")
			assert.Contains(t, out, "follow it with: starter watch --id canary-cli.good")

			code, _, errOut := s.cli(t, "start", "-f", file)
			assert.Equal(t, exitFailure, code)
			assert.Contains(t, errOut, "a rollout is already running for cli/good: workflow canary-cli.good")

			out = s.ok(t, "status", "--app", "good", "--namespace", "cli")
			assert.Contains(t, out, "rollout cli/good: v1 → v2")
			var st rollout.Status
			require.NoError(t, json.Unmarshal([]byte(s.ok(t, "status", "--id", "canary-cli.good", "-o", "json")), &st))
			assert.Equal(t, "good", st.App)

			code, out, errOut = s.cli(t, "watch", "--app", "good", "--namespace", "cli")
			assert.Equal(t, exitOK, code, errOut)
			assert.Contains(t, out, "measure Successful")
			assert.Contains(t, out, "rollout canary-cli.good ended Promoted")

			out = s.ok(t, "history", "--id", "canary-cli.good")
			assert.Contains(t, out, "(by ci)", "who started it")
			assert.Contains(t, out, "promoted")
			var h struct {
				Phase  rollout.Phase
				Events []rollout.Event
			}
			require.NoError(t, json.Unmarshal([]byte(s.ok(t, "history", "--id", "canary-cli.good", "-o", "json")), &h))
			assert.Equal(t, rollout.PhasePromoted, h.Phase, "history of a closed rollout")
			assert.Equal(t, "promoted", h.Events[len(h.Events)-1].Kind)

			code, _, errOut = s.cli(t, "report", "--id", "canary-cli.good")
			assert.Equal(t, exitFailure, code)
			assert.Contains(t, errOut, "no incident report for canary-cli.good: it is Promoted, and only a rollback has one")

			code, _, errOut = s.cli(t, "approve", "--id", "canary-cli.good")
			assert.Equal(t, exitRefused, code, "nothing to approve in a closed rollout")
			t.Logf("approve on a promoted rollout: %s", errOut)
			assert.Contains(t, errOut, "canary-cli.good")
		})

		t.Run("start --wait, report: rolled back by analysis", func(t *testing.T) {
			t.Parallel()
			code, out, errOut := s.cli(t, "start", "-f", s.spec(t, "bad", quickSteps), "--wait")
			assert.Equal(t, exitEnded, code, errOut)
			assert.Contains(t, out, "measure Failed")
			assert.Contains(t, out, "rollout canary-cli.bad ended RolledBack")
			assert.Contains(t, out, "reason: analysis failed")
			assert.Contains(t, out, "incident report: starter report --id canary-cli.bad")
			assert.Contains(t, errOut, "ended RolledBack, not promoted")

			md := s.ok(t, "report", "--app", "bad", "--namespace", "cli")
			assert.Contains(t, md, "# Incident: canary rollback of cli/bad")
			assert.Contains(t, md, "- Outcome: RolledBack")
			assert.Contains(t, md, "canary error rate 20.00% > 5.00%")
			assert.Contains(t, md, "- Canary weight now: 0%")
			var r incident.Report
			require.NoError(t, json.Unmarshal([]byte(s.ok(t, "report", "--id", "canary-cli.bad", "-o", "json")), &r))
			assert.Equal(t, incident.Schema, r.Schema)
			assert.Equal(t, rollout.PhaseRolledBack, r.Outcome)
			assert.Contains(t, []int{10, 50}, r.WeightAtRollback, "the weight when the rollback began, not the 0 after it")
			assert.NotEmpty(t, r.RunID)
			assert.NotEmpty(t, r.Measurements)
		})

		t.Run("approve, pause, resume, abort, with refusals", func(t *testing.T) {
			t.Parallel()
			s.ok(t, "start", "-f", s.spec(t, "gated", gateSteps))
			id := "canary-cli.gated"
			s.waitFor(t, id, "approval at step 2", func(st rollout.Status) bool { return st.Phase == rollout.PhaseAwaitApproval })

			code, _, errOut := s.cli(t, "approve", "--id", id, "--step", "4")
			assert.Equal(t, exitRefused, code)
			assert.Contains(t, errOut, "it names step 4 but step 2 is waiting")

			out := s.ok(t, "approve", "--id", id, "--by", "alice")
			assert.Equal(t, "step 2 approved by alice; the rollout continues\n", out, "the rollout's answer")
			s.waitFor(t, id, "approval at step 4", func(st rollout.Status) bool { return st.Phase == rollout.PhaseAwaitApproval && st.Step == 4 })

			assert.NotEmpty(t, s.ok(t, "pause", "--id", id, "--by", "bob"))
			code, _, errOut = s.cli(t, "pause", "--id", id)
			assert.Equal(t, exitRefused, code)
			assert.Contains(t, errOut, "already paused")
			assert.NotEmpty(t, s.ok(t, "resume", "--id", id))

			out = s.ok(t, "abort", "--id", id, "--by", "carol", "--reason", "wrong build")
			assert.NotEmpty(t, out)
			code, _, errOut = s.cli(t, "watch", "--id", id)
			assert.Equal(t, exitEnded, code)
			assert.Contains(t, errOut, "ended RolledBack, not promoted")

			code, _, errOut = s.cli(t, "approve", "--id", id)
			assert.Equal(t, exitRefused, code, "nothing to approve once rolled back")
			assert.NotContains(t, errOut, "no rollout")

			hist := s.ok(t, "history", "--id", id)
			for _, want := range []string{"(by alice)", "(by bob)", "(by carol)", "aborted by carol: wrong build"} {
				assert.Contains(t, hist, want)
			}
			md := s.ok(t, "report", "--id", id)
			assert.Contains(t, md, "- Reason: aborted by carol: wrong build")
			assert.Contains(t, md, "weight 50% before rollback")
		})

		t.Run("promote skips the remaining steps", func(t *testing.T) {
			t.Parallel()
			s.ok(t, "start", "-f", s.spec(t, "rushed", gateSteps))
			id := "canary-cli.rushed"
			s.waitFor(t, id, "approval", func(st rollout.Status) bool { return st.Phase == rollout.PhaseAwaitApproval })
			assert.Contains(t, s.ok(t, "promote", "--id", id), "promot")
			// Followed as on a terminal: the live view, redrawn in place.
			var out strings.Builder
			c := &cli{out: &out, errOut: &out, isTerminal: true, width: 200, now: time.Now}
			require.NoError(t, c.follow(context.Background(), s.c, id, 200*time.Millisecond))
			assert.Contains(t, out.String(), "rollout cli/rushed  v1 → v2  (canary-cli.rushed)")
			assert.Contains(t, out.String(), "weight   [")
			assert.Contains(t, out.String(), "\x1b[", "frames after the first redraw the one before")
			assert.Contains(t, out.String(), "rollout canary-cli.rushed ended Promoted")
		})

		t.Run("watch exits 3 when the workflow is terminated", func(t *testing.T) {
			t.Parallel()
			s.ok(t, "start", "-f", s.spec(t, "doomed", gateSteps))
			id := "canary-cli.doomed"
			s.waitFor(t, id, "approval", func(st rollout.Status) bool { return st.Phase == rollout.PhaseAwaitApproval })
			go func() {
				time.Sleep(1500 * time.Millisecond)
				assert.NoError(t, s.c.TerminateWorkflow(context.Background(), id, "", "operator"))
			}()
			code, out, errOut := s.cli(t, "watch", "--id", id)
			assert.Equal(t, exitEnded, code, out)
			assert.Contains(t, errOut, "canary-cli.doomed is Terminated in phase AwaitingApproval at weight 10%")
		})

		t.Run("a rollout that does not exist", func(t *testing.T) {
			t.Parallel()
			for _, args := range [][]string{
				{"status"}, {"watch"}, {"history"}, {"report"}, {"approve"}, {"abort", "--reason", "x"}, {"pause"}, {"resolve", "--reason", "x"},
			} {
				code, out, errOut := s.cli(t, append(args, "--app", "nope", "--namespace", "cli")...)
				assert.Equal(t, exitFailure, code, "%v", args)
				assert.Contains(t, errOut, "no rollout with ID canary-cli.nope; start one with `starter start -f spec.yaml`", "%v", args)
				assert.Empty(t, out, "%v", args)
			}
		})

		t.Run("no worker to answer: the command gives up and says why", func(t *testing.T) {
			t.Parallel()
			id := "canary-cli.orphan"
			_, err := s.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: "nobody-polls-this"}, workflows.CanaryRollout, workflows.Input{})
			require.NoError(t, err)
			for _, args := range [][]string{{"status"}, {"approve"}, {"report"}} {
				start := time.Now()
				code, _, errOut := s.cli(t, append(args, "--id", id, "--timeout", "1s")...)
				assert.Equal(t, exitFailure, code, "%v", args)
				assert.Contains(t, errOut, "no answer within 1s; is a canaryflow worker running?", "%v", args)
				assert.Less(t, time.Since(start), 20*time.Second, "%v", args)
			}
			code, _, errOut := s.cli(t, "status", "--id", id, "--timeout", "0s")
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, errOut, "--timeout must be positive")
			require.NoError(t, s.c.TerminateWorkflow(context.Background(), id, "", "test done"))
		})

		t.Run("actions that do not apply to a running rollout", func(t *testing.T) {
			t.Parallel()
			s.ok(t, "start", "-f", s.spec(t, "calm", gateSteps))
			id := "canary-cli.calm"
			s.waitFor(t, id, "approval", func(st rollout.Status) bool { return st.Phase == rollout.PhaseAwaitApproval })
			for args, want := range map[string]string{
				"retry-rollback":         "only a RollbackFailed rollout retries its rollback",
				"resolve --reason fixed": "only a RollbackFailed rollout is resolved by hand",
				"resume":                 "already running",
				"report":                 "no incident report",
			} {
				code, _, errOut := s.cli(t, append(strings.Fields(args), "--id", id)...)
				if args == "report" {
					assert.Equal(t, exitFailure, code)
				} else {
					assert.Equal(t, exitRefused, code, args)
				}
				assert.Contains(t, errOut, want, args)
			}
			s.ok(t, "abort", "--id", id)
		})
	})

	t.Run("list from visibility, filtered, with hostile filters", func(t *testing.T) {
		ids := func(t *testing.T, args ...string) []string {
			t.Helper()
			code, out, errOut := s.cli(t, append([]string{"list", "-o", "json"}, args...)...)
			require.Equal(t, exitOK, code, errOut)
			var rs []control.Summary
			require.NoError(t, json.Unmarshal([]byte(out), &rs))
			var ids []string
			for _, r := range rs {
				ids = append(ids, r.ID)
			}
			return ids
		}
		// Visibility trails the workflows: wait until it has the final phases.
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			code, out, _ := s.cli(t, "list", "--phase", "RolledBack", "-o", "json")
			var rs []control.Summary
			if assert.Equal(ct, exitOK, code) && assert.NoError(ct, json.Unmarshal([]byte(out), &rs)) {
				assert.Len(ct, rs, 3, "bad, gated and calm rolled back")
			}
		}, 30*time.Second, 250*time.Millisecond)

		out := s.ok(t, "list")
		assert.Regexp(t, `(?m)^ID\s+PHASE\s+WEIGHT\s+CANARY\s+STATUS\s+STARTED\s+CLOSED$`, out)
		assert.Regexp(t, `(?m)^canary-cli\.good\s+Promoted\s+0%\s+v2\s+Completed\s`, out)
		assert.Regexp(t, `(?m)^canary-cli\.doomed\s+AwaitingApproval\s+10%\s+v2\s+Terminated\s`, out)

		assert.Equal(t, []string{"canary-cli.good"}, ids(t, "--app", "good", "--namespace", "cli"))
		assert.Empty(t, ids(t, "--app", "good", "--namespace", "elsewhere"))
		assert.ElementsMatch(t, []string{"canary-cli.good", "canary-cli.rushed"}, ids(t, "--phase", "Promoted"))
		assert.Len(t, ids(t, "--limit", "2"), 2)

		// Each of these would match every rollout (or break the query) if
		// the value were pasted into the query unquoted.
		for _, hostile := range []string{
			"good' OR WorkflowType = 'CanaryRollout",
			`good\' OR WorkflowType = 'CanaryRollout`,
			`good\`,
			"good\" OR \"1\" = \"1",
			"%",
		} {
			assert.Empty(t, ids(t, "--app", hostile), "%q", hostile)
			assert.Empty(t, ids(t, "--namespace", hostile, "--app", "good"), "%q", hostile)
		}
		assert.Contains(t, s.ok(t, "list", "--app", "good' OR 'a'='a"), "no rollouts match")

		// Tab after --id offers the rollouts there are.
		var buf strings.Builder
		code := execute(context.Background(), []string{"__complete", "status", "--address", s.srv.Address(), "--id", ""}, &buf, &buf)
		assert.Equal(t, exitOK, code)
		assert.Contains(t, buf.String(), "canary-cli.good\tPromoted")
	})

	t.Run("retry-rollback and resolve a RollbackFailed rollout", func(t *testing.T) {
		ctx := context.Background()
		spec, err := readSpec(s.spec(t, "stuck", "  - setWeight: 10\n  - pause: {duration: 1m}\n"))
		require.NoError(t, err)
		id := rollout.WorkflowID(spec.Namespace, spec.App)
		_, err = s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.CanaryRollout,
			workflows.Input{Spec: spec, By: "ci", RollbackRetryFor: rollout.Duration(time.Second)})
		require.NoError(t, err)
		s.waitFor(t, id, "10 %", func(st rollout.Status) bool { return st.Weight == 10 })
		s.ok(t, "abort", "--id", id, "--reason", "stop")
		s.waitFor(t, id, "RollbackFailed", func(st rollout.Status) bool { return st.Phase == rollout.PhaseRollbackFailed })

		code, out, _ := s.cli(t, "watch", "--id", id)
		assert.Equal(t, exitEnded, code)
		assert.Contains(t, out, "`starter retry-rollback --id canary-cli.stuck`")

		md := s.ok(t, "report", "--id", id)
		assert.Contains(t, md, "- **Left to put right by hand**")
		assert.Contains(t, md, "409 conflict on stuck")

		assert.Contains(t, s.ok(t, "retry-rollback", "--id", id, "--by", "dana"), "compensation runs again")
		s.waitFor(t, id, "second round failed", func(st rollout.Status) bool {
			return st.RollbackAttempts >= 2 && st.Phase == rollout.PhaseRollbackFailed
		})
		out = s.ok(t, "resolve", "--id", id, "--by", "dana", "--reason", "weight set to 0 by hand")
		assert.Equal(t, "resolved by dana: the rollout ends\n", out)
		res, err := control.Wait(ctx, s.c, id)
		require.NoError(t, err)
		assert.Equal(t, rollout.PhaseRollbackFailed, res.Phase)
		md = s.ok(t, "report", "--id", id)
		assert.Contains(t, md, "- Resolved by dana at ")
		assert.Contains(t, md, "weight set to 0 by hand")
	})
}
