package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubeask/kubeask/internal/mcp/audit"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/tools"
)

// callerFunc tells a tool handler who is calling and from where.
type callerFunc func(*mcp.CallToolRequest) (*auth.Caller, string)

// callerFromTokenInfo reads the caller the HTTP layer verified (streamable HTTP hands
// it to handlers as TokenInfo). In --mcp-auth=none it is the development user.
func callerFromTokenInfo(s *Server) callerFunc {
	return func(req *mcp.CallToolRequest) (*auth.Caller, string) {
		if req.Extra != nil && req.Extra.TokenInfo != nil {
			c, _ := req.Extra.TokenInfo.Extra[tokenInfoCaller].(*auth.Caller)
			remote, _ := req.Extra.TokenInfo.Extra[tokenInfoRemote].(string)
			return c, remote
		}
		return s.devCaller, ""
	}
}

// registryOutput is the structured result of every registry tool.
type registryOutput struct {
	Text      string `json:"text" jsonschema:"the tool's readable result"`
	Truncated bool   `json:"truncated,omitempty" jsonschema:"true when the result was cut to the output budget"`
}

var registryOutputSchema = mustSchema[registryOutput]()

func mustSchema[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(err) // static types: caught by every test
	}
	return s
}

// newMCPServer builds an SDK server with the registry's tools, ask, sessions_list,
// triggers_list and the profiles as prompts, for callers found by callerOf.
func (s *Server) newMCPServer(callerOf callerFunc) *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "kubeask", Title: "kubeask", Version: Version}, &mcp.ServerOptions{
		Instructions: "kubeask runs Kubernetes tools as you: every call is made with your own Kubernetes identity and permissions, never more. " +
			"Use ask for a full investigation by kubeask's agent, or the individual tools. Calls that change the cluster follow the server's policy: " + s.opts.Mutations + ".",
		SchemaCache:       s.schemas,
		CompletionHandler: s.completion(callerOf),
	})
	srv.AddReceivingMiddleware(negotiateVersion)
	for _, t := range s.cfg.Tools.List() {
		srv.AddTool(s.describe(t), s.registryHandler(t, callerOf))
	}
	s.addAgentTools(srv, callerOf)
	s.addPrompts(srv)
	s.addResources(srv, callerOf)
	return srv
}

// describe turns a registry tool into its MCP description, with the hints MCP
// clients use to decide what needs the user's attention.
func (s *Server) describe(t tools.Tool) *mcp.Tool {
	destructive := t.Annotations.Destructive
	openWorld := false
	desc := t.Description
	if !t.Annotations.ReadOnly {
		switch s.opts.Mutations {
		case MutationsReadOnly:
			desc += " [This endpoint is read-only: calls that would change the cluster are refused.]"
		case MutationsPropose:
			desc += " [Calls that change the cluster run only after the user confirms them.]"
		}
	}
	return &mcp.Tool{
		Name:         t.Name,
		Title:        t.Annotations.Title,
		Description:  desc,
		InputSchema:  t.InputSchema,
		OutputSchema: registryOutputSchema,
		Annotations: &mcp.ToolAnnotations{
			Title:           t.Annotations.Title,
			ReadOnlyHint:    t.Annotations.ReadOnly,
			DestructiveHint: &destructive,
			IdempotentHint:  t.Annotations.Idempotent,
			OpenWorldHint:   &openWorld,
		},
	}
}

// call is one tool call on its way to the audit log and the metrics.
type call struct {
	s      *Server
	caller *auth.Caller
	remote string
	client string
	tool   string
	args   json.RawMessage
	start  time.Time

	mu       sync.Mutex
	accesses []audit.Access
	query    *audit.QueryRef
}

func (s *Server) begin(req *mcp.CallToolRequest, callerOf callerFunc) (*call, *mcp.CallToolResult) {
	c := &call{s: s, tool: req.Params.Name, args: req.Params.Arguments, start: time.Now()}
	c.caller, c.remote = callerOf(req)
	if info := req.ClientInfo(); info != nil {
		c.client = strings.TrimSpace(info.Name + " " + info.Version)
	}
	if c.caller == nil {
		// The HTTP layer authenticates every request; this is a wiring bug.
		c.caller = &auth.Caller{}
		return c, c.finish(toolError("the request carries no verified caller"), audit.OutcomeFailed, "no caller")
	}
	return c, nil
}

func (c *call) onAccess(a tools.Access) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accesses = append(c.accesses, audit.Access{Verb: a.Verb, Resource: a.Resource, Namespace: a.Namespace, Name: a.Name})
}

// finish writes the audit line and the metrics, and returns res.
func (c *call) finish(res *mcp.CallToolResult, outcome, errText string) *mcp.CallToolResult {
	d := time.Since(c.start)
	c.s.metrics.ObserveCall(c.tool, outcome, d)
	c.mu.Lock()
	accesses := append([]audit.Access(nil), c.accesses...)
	c.mu.Unlock()
	id := c.caller.Identity
	c.s.audit.Log(audit.Record{
		Time: c.start.UTC(), User: id.Username, UID: id.UID, Groups: id.Groups, Auth: c.caller.Mode,
		Client: c.client, RemoteAddr: c.remote, Tool: c.tool, Arguments: audit.Mask(c.args),
		Kubernetes: accesses, Outcome: outcome, Error: errText,
		LatencyMS: float64(d.Microseconds()) / 1000, Query: c.query,
	})
	return res
}

// toolError is the result of every failed call, whichever the tool: isError, the
// reason as text, and no structured content, which could not match the tool's output
// schema (clients validate structured content against it).
func toolError(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// registryHandler runs a registry tool as the caller.
func (s *Server) registryHandler(t tools.Tool, callerOf callerFunc) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c, failed := s.begin(req, callerOf)
		if failed != nil {
			return failed, nil
		}
		args := req.Params.Arguments
		if t.Mutates(args) && s.opts.Mutations != MutationsAllow {
			// A call the tool refuses anyway (kubectl --as, kubectl config, invalid
			// arguments) is refused for what it is, not as a change.
			if err := t.Refusal(args, s.cfg.Output); err != nil {
				return c.finish(toolError(err.Error()), audit.OutcomeToolError, firstLine(err.Error())), nil
			}
			switch s.opts.Mutations {
			case MutationsReadOnly:
				return c.finish(toolError(t.Name+" would change the cluster, and this MCP endpoint is read-only (--mcp-mutations=read-only): the call was not made. "+
					"Describe the change to the user instead, or ask for it through kubeask's approval flow (kubectl ask)."), audit.OutcomeRefused, "read-only endpoint"), nil
			case MutationsPropose:
				if res, outcome, proceed := s.confirm(req, c, args); !proceed {
					return c.finish(res, outcome, ""), nil
				}
			}
		}
		return s.runTool(ctx, c, t, args), nil
	}
}

func (s *Server) runTool(ctx context.Context, c *call, t tools.Tool, args json.RawMessage) *mcp.CallToolResult {
	clients, err := s.envs.get(c.caller)
	if err != nil {
		if res, cerr := tools.Classify(err); cerr == nil && res != nil {
			return c.finish(toolError(res.Text), audit.OutcomeRefused, res.Text)
		}
		s.log.Error(err, "building clients", "user", c.caller.Identity.Username)
		return c.finish(toolError("the server could not build clients for you: "+err.Error()), audit.OutcomeFailed, err.Error())
	}
	env := *clients.env
	env.OnAccess = c.onAccess
	ctx, cancel := context.WithTimeout(ctx, s.opts.ToolTimeout)
	defer cancel()
	res, err := t.Call(ctx, &env, args)
	if err != nil {
		if clientThrottled(err) {
			return c.throttled(err)
		}
		if errors.Is(err, context.Canceled) {
			return c.finish(toolError("the call was cancelled"), audit.OutcomeFailed, err.Error())
		}
		s.log.Error(err, "tool failed", "tool", t.Name, "user", c.caller.Identity.Username)
		return c.finish(toolError("the tool failed: "+err.Error()), audit.OutcomeFailed, err.Error())
	}
	out := toolError(res.Text)
	if !res.IsError {
		out = &mcp.CallToolResult{
			Content:           []mcp.Content{&mcp.TextContent{Text: res.Text}},
			StructuredContent: registryOutput{Text: res.Text, Truncated: res.Truncated},
		}
	}
	switch {
	case !res.IsError:
		return c.finish(out, audit.OutcomeOK, "")
	// The audit log keeps the Recorded text: its readers need not see what the caller may.
	case res.Forbidden || strings.HasPrefix(res.Recorded, "forbidden:"):
		return c.finish(out, audit.OutcomeForbidden, firstLine(res.Recorded))
	default:
		return c.finish(out, audit.OutcomeToolError, firstLine(res.Recorded))
	}
}

func firstLine(s string) string {
	first, rest, _ := strings.Cut(s, "\n")
	// "kubectl exited with status 1:" says little; the line after it says why.
	if strings.HasSuffix(first, ":") && rest != "" {
		next, _, _ := strings.Cut(rest, "\n")
		first += " " + next
	}
	s = first
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
