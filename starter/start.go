package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/canaryflow/canaryflow/control"
	"github.com/canaryflow/canaryflow/rollout"
)

func (c *cli) startCmd() *cobra.Command {
	var (
		file  string
		wait  bool
		by    string
		every time.Duration
	)
	cmd := &cobra.Command{
		Use:     "start -f spec.yaml [--wait]",
		Short:   "Validate a spec and start its rollout",
		GroupID: "run",
		Long: `Validate a rollout spec and start its rollout. A spec with problems is refused
with every problem named, before Temporal is contacted: nothing is started.
One app in one namespace has one rollout at a time; starting a second is refused
with the running one's ID.

With --wait, follow the rollout like watch and exit 0 once it is promoted, 3
if it ends otherwise.`,
		Example: `  starter start -f examples/try.yaml
  starter start -f rollout.yaml --wait`,
		Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command) error {
			if err := checkBy(by); err != nil {
				return err
			}
			if every <= 0 {
				return usageError("--every must be positive, got %s", every)
			}
			spec, err := readSpec(file)
			if err != nil {
				return err
			}
			cl, err := c.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer cl.Close()
			r, err := control.Start(cmd.Context(), cl, spec, by)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "started rollout %s (run %s)\n", r.GetID(), r.GetRunID())
			if !wait {
				fmt.Fprintf(c.out, "follow it with: starter watch --id %s\n", r.GetID())
				return nil
			}
			return c.follow(cmd.Context(), cl, r.GetID(), every)
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "rollout spec (YAML)")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the rollout until it ends")
	cmd.Flags().DurationVar(&every, "every", time.Second, "poll interval with --wait")
	actorFlag(cmd, &by)
	return cmd
}

func (c *cli) planCmd() *cobra.Command {
	var (
		file string
		out  output
	)
	cmd := &cobra.Command{
		Use:     "plan -f spec.yaml",
		Short:   "Validate a spec and show its plan as a timeline; start nothing",
		GroupID: "run",
		Long: `Validate a rollout spec and show its steps as a timeline: when each step
begins, the canary's weight, what each step waits for, and the total duration.
Nothing is started and Temporal is not contacted.`,
		Example: `  starter plan -f examples/reference.yaml
  starter plan -f rollout.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: run(func(*cobra.Command) error {
			if err := out.check(); err != nil {
				return err
			}
			spec, err := readSpec(file)
			if err != nil {
				return err
			}
			p := planOf(spec)
			if out.json() {
				return writeJSON(c.out, p)
			}
			_, err = io.WriteString(c.out, p.text(file))
			return err
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "rollout spec (YAML)")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	out.flag(cmd, "a timeline")
	return cmd
}

// readSpec reads, defaults and validates a spec file. A file past
// rollout.MaxSpecBytes is refused without reading it all, and a directory or
// device is refused as one.
func readSpec(file string) (rollout.Spec, error) {
	f, err := os.Open(file)
	if err != nil {
		return rollout.Spec{}, fmt.Errorf("reading spec: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return rollout.Spec{}, fmt.Errorf("reading spec %s: %w", file, err)
	} else if !st.Mode().IsRegular() {
		return rollout.Spec{}, fmt.Errorf("reading spec %s: not a regular file", file)
	}
	data, err := io.ReadAll(io.LimitReader(f, rollout.MaxSpecBytes+1))
	if err != nil {
		return rollout.Spec{}, fmt.Errorf("reading spec %s: %w", file, err)
	}
	if len(data) > rollout.MaxSpecBytes {
		return rollout.Spec{}, fmt.Errorf("%s: a rollout spec is at most %d bytes; this one is longer", file, rollout.MaxSpecBytes)
	}
	spec, err := rollout.Parse(data)
	if err != nil {
		return rollout.Spec{}, fmt.Errorf("%s: %w", file, err)
	}
	return spec, nil
}
