// Package version is `kubectl ask version`: the plugin's own version. It never contacts
// the cluster, so it answers without a kubeconfig (checking an install, a bug report).
package version

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubeask/kubeask/internal/askcli/cmd/cmdargs"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/version"
)

// NewCmd builds the command.
func NewCmd(f *factory.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of kubectl ask",
		Example: `  kubectl ask version`,
		Args:    cmdargs.Exactly(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(f.IO.Out, "kubectl-ask", version.String())
			return err
		},
	}
}
