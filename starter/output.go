package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/canaryflow/canaryflow/rollout"
)

// output is the -o flag of read commands: text for people, json for tools.
type output struct{ format string }

func (o *output) flag(cmd *cobra.Command, text string) {
	cmd.Flags().StringVarP(&o.format, "output", "o", "text", "output format: text ("+text+") or json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

// check refuses an unknown format before anything is done, so a typo in a
// script fails at once instead of after a server round trip.
func (o *output) check() error {
	switch o.format {
	case "text", "json":
		return nil
	}
	return usageError("-o %q: must be text or json", rollout.Clip(o.format, 64))
}

func (o *output) json() bool { return o.format == "json" }

// writeJSON writes v indented, one document per command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}
