package mcp

import (
	"context"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// addPrompts serves the platform's profiles as MCP prompts: the same system prompt
// and tool set a session with that profile uses, for clients whose own model does the
// work.
func (s *Server) addPrompts(srv *mcp.Server) {
	if s.cfg.Catalog == nil {
		return
	}
	for _, p := range s.cfg.Catalog.Profiles {
		desc := p.Description
		if len(p.Tools) > 0 {
			desc += fmt.Sprintf(" Tools: %s.", strings.Join(p.Tools, ", "))
		}
		srv.AddPrompt(&mcp.Prompt{
			Name:        p.Name,
			Title:       "kubeask profile " + p.Name,
			Description: strings.TrimSpace(desc),
			Arguments: []*mcp.PromptArgument{
				{Name: "question", Title: "Question", Description: "what to investigate or do", Required: false},
				{Name: "namespace", Title: "Namespace", Description: "the namespace to work in (completion offers those you may use)", Required: false},
				{Name: "session", Title: "Session", Description: "a kubeask session in that namespace whose transcript is the context (completion offers those you may read)", Required: false},
			},
		}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			text := p.Prompt()
			if len(p.Tools) > 0 {
				text += "\n\nUse only these tools: " + strings.Join(p.Tools, ", ") + "."
			}
			ns := strings.TrimSpace(req.Params.Arguments["namespace"])
			if ns != "" {
				text += "\n\nWork in namespace " + ns + "."
			}
			if sess := strings.TrimSpace(req.Params.Arguments["session"]); sess != "" {
				text += "\n\nThis continues the kubeask session " + SessionURI(cmp(ns, s.opts.DefaultNamespace), sess) + ": read that resource for the conversation so far."
			}
			if q := strings.TrimSpace(req.Params.Arguments["question"]); q != "" {
				text += "\n\nThe question:\n" + q
			}
			return &mcp.GetPromptResult{
				Description: p.Description,
				Messages:    []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: text}}},
			}, nil
		})
	}
}
