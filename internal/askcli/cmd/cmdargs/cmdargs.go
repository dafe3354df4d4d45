// Package cmdargs validates positional arguments with usage errors (exit code 2).
package cmdargs

import (
	"github.com/spf13/cobra"

	"github.com/kubeask/kubeask/internal/askcli/exitcode"
)

// Exactly accepts exactly one argument per name in names.
func Exactly(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return exitcode.UsageErrorf("%s needs %d argument(s): %v; see '%s --help'", cmd.CommandPath(), len(names), names, cmd.CommandPath())
		}
		return nil
	}
}

// AtLeast accepts n or more arguments.
func AtLeast(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return exitcode.UsageErrorf("%s needs %s; see '%s --help'", cmd.CommandPath(), what, cmd.CommandPath())
		}
		return nil
	}
}

// AtMost accepts at most n arguments.
func AtMost(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return exitcode.UsageErrorf("%s takes at most %d argument(s), got %d; see '%s --help'", cmd.CommandPath(), n, len(args), cmd.CommandPath())
		}
		return nil
	}
}
