// Package mcpbridge is `kubectl ask mcp`: a local MCP server on stdin/stdout that
// relays to the operator's remote MCP endpoint, authenticating with the user's own
// kubeconfig credentials, for desktop clients that only speak stdio.
package mcpbridge

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/mcp/stdio"
)

// Options of mcp.
type Options struct {
	f        *factory.Factory
	Endpoint string
	// InsecureHTTP allows a plain http:// endpoint on another machine.
	InsecureHTTP bool
}

// NewCmd builds the command.
func NewCmd(f *factory.Factory) *cobra.Command {
	o := &Options{f: f, Endpoint: os.Getenv("KUBEASK_MCP_ENDPOINT")}
	cmd := &cobra.Command{
		Use:   "mcp --endpoint URL",
		Short: "Serve MCP on stdio, relayed to the operator's MCP endpoint as you",
		Long: `Serve MCP on stdin/stdout for clients that only speak stdio (desktop apps), relaying
every message to the kubeask operator's remote MCP endpoint. Requests carry the bearer
token of your kubeconfig credentials (a token, a token file, or an exec plugin), so the
endpoint acts as you. Client-certificate credentials cannot be relayed.

The token is sent only to the endpoint itself, never to where it redirects, and only
over HTTPS, or plain HTTP to this machine (localhost, 127.0.0.1, ::1, e.g. through
kubectl port-forward). --insecure-http allows plain HTTP to another host.`,
		Example: `  # in an MCP client's configuration:
  #   "command": "kubectl", "args": ["ask", "mcp", "--endpoint", "https://kubeask.example.com/mcp"]
  kubectl ask mcp --endpoint https://kubeask.example.com/mcp

  # through a port-forward to the operator's MCP port
  kubectl -n kubeask-system port-forward svc/kubeask 8090:mcp &
  kubectl ask mcp --endpoint http://127.0.0.1:8090/mcp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.Endpoint, "endpoint", o.Endpoint, "URL of the operator's MCP endpoint (default $KUBEASK_MCP_ENDPOINT).")
	cmd.Flags().BoolVar(&o.InsecureHTTP, "insecure-http", false, "Allow a plain http:// endpoint on another host: your token then crosses the network unencrypted.")
	return cmd
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Endpoint == "" {
		return exitcode.UsageErrorf("--endpoint is required (or set KUBEASK_MCP_ENDPOINT): the URL of the kubeask MCP endpoint, e.g. https://kubeask.example.com/mcp")
	}
	if _, err := stdio.CheckEndpoint(o.Endpoint, o.InsecureHTTP); err != nil {
		if errors.Is(err, stdio.ErrPlainHTTP) {
			return exitcode.UsageErrorf("refusing %s: %v. Use the endpoint's https:// URL, or pass --insecure-http if you trust every network between here and there", o.Endpoint, err)
		}
		return exitcode.UsageErrorf("%v", err)
	}
	return nil
}

// Run relays until stdin ends.
func (o *Options) Run(ctx context.Context) error {
	cfg, err := o.f.Flags.ToRESTConfig()
	if err != nil {
		return err
	}
	return stdio.Bridge(ctx, cfg, o.Endpoint, o.f.IO.In, o.f.IO.Out, &stdio.Options{AllowInsecureHTTP: o.InsecureHTTP})
}
