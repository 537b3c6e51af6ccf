package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/rollout"
)

// action describes one of the rollout's actions as a command.
type action struct {
	name, short, long string
	// payload builds the Update's argument from the flags.
	payload func(a *actionFlags) (any, error)
	// flags adds the action's own flags.
	flags func(cmd *cobra.Command, a *actionFlags)
}

type actionFlags struct {
	t      target
	by     string
	reason string
	step   int
}

func (c *cli) actionCmds() []*cobra.Command {
	reasonFlag := func(help string) func(*cobra.Command, *actionFlags) {
		return func(cmd *cobra.Command, a *actionFlags) {
			cmd.Flags().StringVar(&a.reason, "reason", "", fmt.Sprintf("%s (at most %d bytes)", help, rollout.MaxReasonBytes))
		}
	}
	actor := func(a *actionFlags) (any, error) { return rollout.Actor{By: a.by}, nil }
	actions := []action{
		{name: rollout.SignalApprove, short: "Release the step waiting for approval",
			long: "Release the step that waits for approval. With --step, only if that step (numbered\nfrom 1, as status shows it) is the one waiting, so a late approval cannot\nrelease a later gate. Refused (exit 4) when nothing waits for approval.",
			flags: func(cmd *cobra.Command, a *actionFlags) {
				cmd.Flags().IntVar(&a.step, "step", 0, "the step to approve, as status numbers it (default: whichever waits)")
			},
			payload: func(a *actionFlags) (any, error) {
				if a.step < 0 {
					return nil, usageError("--step must be a step number from 1 (as status shows it), got %d", a.step)
				}
				p := rollout.Approval{By: a.by}
				if a.step > 0 {
					p.Step = &a.step
				}
				return p, nil
			}},
		{name: rollout.SignalAbort, short: "Roll back now",
			long:  "Roll back now: traffic to stable first, then the canary removed. An abort\nduring promotion still rolls back until traffic has moved to the promoted stable.",
			flags: reasonFlag("why, for the event log and the incident report"),
			payload: func(a *actionFlags) (any, error) {
				return rollout.Abort{Reason: a.reason, By: a.by}, nil
			}},
		{name: rollout.SignalPromote, short: "Skip the remaining steps and promote", payload: actor},
		{name: rollout.SignalPause, short: "Hold the steps (analysis goes on)", payload: actor},
		{name: rollout.SignalResume, short: "Continue the steps after pause", payload: actor},
		{name: rollout.SignalRetryRollback, short: "Try a RollbackFailed rollout's rollback again", payload: actor},
		{name: rollout.SignalResolve, short: "Close a RollbackFailed rollout put right by hand",
			long:  "Close a RollbackFailed rollout that a person has put right by hand: records who\nand why (both required), ends the workflow and frees the rollout's ID.",
			flags: reasonFlag("what was done by hand (required)"),
			payload: func(a *actionFlags) (any, error) {
				if a.reason == "" || a.by == "" {
					return nil, usageError("resolve: --reason (what was done by hand) and --by are required")
				}
				return rollout.Resolve{Reason: a.reason, By: a.by}, nil
			}},
	}
	cmds := make([]*cobra.Command, len(actions))
	for i, a := range actions {
		cmds[i] = c.actionCmd(a)
	}
	return cmds
}

func (c *cli) actionCmd(a action) *cobra.Command {
	var f actionFlags
	long := a.long
	if long == "" {
		long = a.short + "."
	}
	cmd := &cobra.Command{
		Use:     a.name + " (--app A --namespace N | --id ID)",
		Short:   a.short,
		Long:    long + "\n\nThe rollout answers: its answer is printed, or the reason it refused (exit code 4).",
		GroupID: "act",
		Args:    cobra.NoArgs,
		RunE: c.bounded(func(ctx context.Context) error {
			id, err := f.t.resolve()
			if err != nil {
				return err
			}
			if err := checkBy(f.by); err != nil {
				return err
			}
			if len(f.reason) > rollout.MaxReasonBytes {
				return usageError("--reason is %d bytes long; the maximum is %d", len(f.reason), rollout.MaxReasonBytes)
			}
			payload, err := a.payload(&f)
			if err != nil {
				return err
			}
			cl, err := c.dial(ctx)
			if err != nil {
				return err
			}
			defer cl.Close()
			answer, err := control.Act(ctx, cl, id, a.name, payload)
			if err != nil {
				err = control.Explain(ctx, cl, id, err)
			}
			switch {
			case errors.Is(err, control.ErrRefused), errors.Is(err, control.ErrClosed):
				return &exitError{code: exitRefused, err: err}
			case err != nil:
				return err
			}
			fmt.Fprintln(c.out, answer)
			return nil
		}),
	}
	f.t.flags(cmd)
	actorFlag(cmd, &f.by)
	if a.flags != nil {
		a.flags(cmd, &f)
	}
	return cmd
}
