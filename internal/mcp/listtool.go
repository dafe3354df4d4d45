package mcp

import (
	"context"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/mcp/audit"
	"github.com/kubeask/kubeask/internal/tools"
)

// ListInput are the arguments of the tools that list kubeask objects.
type ListInput struct {
	Namespace     string `json:"namespace,omitempty" jsonschema:"namespace to list; default: the server's default namespace"`
	AllNamespaces bool   `json:"allNamespaces,omitempty" jsonschema:"list in every namespace you may read"`
}

// listHandler is the body of the tools that list kubeask objects (sessions_list,
// triggers_list): it lists resource with the caller's own client, so the API server
// decides what they may see, and render turns the list into the structured result and
// one text line per object.
func listHandler[L client.ObjectList](s *Server, callerOf callerFunc, tool, resource, none string,
	newList func() L, render func(L) (any, []string)) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c, failed := s.begin(req, callerOf)
		if failed != nil {
			return failed, nil
		}
		var in ListInput
		if err := decodeStrict(req.Params.Arguments, &in); err != nil {
			return c.finish(toolError("invalid arguments for "+tool+": "+err.Error()), audit.OutcomeToolError, err.Error()), nil
		}
		clients, err := s.envs.get(c.caller)
		if err != nil {
			return c.errorResult(err, audit.OutcomeRefused), nil
		}
		var opts []client.ListOption
		ns := ""
		if !in.AllNamespaces {
			ns = cmp(in.Namespace, s.opts.DefaultNamespace)
			opts = append(opts, client.InNamespace(ns))
		}
		c.onAccess(tools.Access{Verb: "list", Resource: resource, Namespace: ns})
		ctx, cancel := context.WithTimeout(ctx, s.opts.ToolTimeout)
		defer cancel()
		list := newList()
		if err := clients.client.List(ctx, list, opts...); err != nil {
			return c.errorResult(err, ""), nil
		}
		out, lines := render(list)
		text := none
		if len(lines) > 0 {
			text = strings.Join(lines, "\n")
		}
		return c.finish(&mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}, StructuredContent: out}, audit.OutcomeOK, ""), nil
	}
}
