package manager

import (
	"context"
	"fmt"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	mcpserver "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/tools"
)

// addMCP adds the MCP endpoint to the manager when --mcp-bind-address is set. It runs
// on every replica (not only the leader) and uses the same tool registry as the agent.
func (o *Options) addMCP(ctx context.Context, mgr ctrl.Manager, cfg *rest.Config, sh *shared) error {
	if !o.MCP.Enabled() {
		return nil
	}
	cat, ids := sh.catalog, sh.ids
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("discovery client: %w", err)
	}
	registry, err := tools.NewRegistry(tools.Builtin()...)
	if err != nil {
		return err
	}
	srv, err := mcpserver.New(ctx, mcpserver.Config{
		Options:     o.MCP,
		RESTConfig:  cfg,
		Identities:  ids,
		Mapper:      tools.NewMapper(dc),
		RESTMapper:  mgr.GetRESTMapper(),
		Scheme:      mgr.GetScheme(),
		Tools:       registry,
		Catalog:     cat,
		Output:      tools.OutputPolicy{MaxBytes: o.ToolOutputBytes},
		KubectlPath: o.KubectlPath,
		Registerer:  ctrlmetrics.Registry,
		Log:         log.FromContext(ctx),
	})
	if err != nil {
		return fmt.Errorf("MCP endpoint: %w", err)
	}
	return mgr.Add(srv)
}
