package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/mcp/audit"
	"github.com/kubeask/kubeask/internal/tools"
)

// Names of the tools that front kubeask's agent rather than the registry.
const (
	ToolAsk          = "ask"
	ToolSessionsList = "sessions_list"
)

// SourceLabel marks AgentQueries created through the MCP endpoint.
const SourceLabel = "agents.kubeask.dev/source"

// AskInput are the arguments of ask.
type AskInput struct {
	Prompt    string `json:"prompt" jsonschema:"the question or instruction for kubeask's agent, in natural language"`
	Namespace string `json:"namespace,omitempty" jsonschema:"namespace of the query (and of the session); default: the server's default namespace"`
	Session   string `json:"session,omitempty" jsonschema:"an AgentSession in that namespace whose earlier queries are the context"`
	Model     string `json:"model,omitempty" jsonschema:"a model of the platform's catalog, by name"`
	Profile   string `json:"profile,omitempty" jsonschema:"a profile of the platform's catalog, by name (see the prompts)"`
	Mode      string `json:"mode,omitempty" jsonschema:"ReadOnly (default), Propose or Auto, as far as the server's mutation policy and the profile allow"`
}

// AskOutput is the structured result of ask.
type AskOutput struct {
	Namespace string     `json:"namespace"`
	Name      string     `json:"name" jsonschema:"the AgentQuery's name"`
	Phase     string     `json:"phase"`
	Answer    string     `json:"answer,omitempty"`
	Steps     []StepInfo `json:"steps,omitempty"`
}

// StepInfo is one tool call of the agent.
type StepInfo struct {
	ID    string `json:"id"`
	Tool  string `json:"tool"`
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// SessionsInput are the arguments of sessions_list.
type SessionsInput = ListInput

// SessionsOutput is the structured result of sessions_list.
type SessionsOutput struct {
	Sessions []SessionInfo `json:"sessions"`
}

// SessionInfo summarizes one AgentSession.
type SessionInfo struct {
	Namespace    string   `json:"namespace"`
	Name         string   `json:"name"`
	Model        string   `json:"model,omitempty"`
	Profile      string   `json:"profile,omitempty"`
	Requester    string   `json:"requester,omitempty"`
	Queries      int32    `json:"queries"`
	Participants []string `json:"participants,omitempty"`
	LastActivity string   `json:"lastActivity,omitempty"`
}

// askPoll is how often ask looks at its query.
const askPoll = 250 * time.Millisecond

func (s *Server) addAgentTools(srv *mcp.Server, callerOf callerFunc) {
	f := false
	readOnly := s.opts.Mutations == MutationsReadOnly
	srv.AddTool(&mcp.Tool{
		Name:  ToolAsk,
		Title: "Ask kubeask",
		Description: "Ask kubeask's agent a question about the cluster. It creates an AgentQuery as you (so the agent acts with your permissions only), " +
			"reports its steps as progress, and returns the answer. Long investigations may outlast the call: the result then names the query to look at later (kubectl get agentquery).",
		InputSchema:  mustSchema[AskInput](),
		OutputSchema: mustSchema[AskOutput](),
		Annotations:  &mcp.ToolAnnotations{Title: "Ask kubeask", ReadOnlyHint: false, DestructiveHint: &f, OpenWorldHint: &f},
	}, s.askHandler(callerOf, readOnly))
	srv.AddTool(&mcp.Tool{
		Name:         ToolSessionsList,
		Title:        "List sessions",
		Description:  "List kubeask sessions (shared conversations with the agent) you may read, with their model, profile, participants and last activity.",
		InputSchema:  mustSchema[SessionsInput](),
		OutputSchema: mustSchema[SessionsOutput](),
		Annotations:  &mcp.ToolAnnotations{Title: "List sessions", ReadOnlyHint: true, DestructiveHint: &f, IdempotentHint: true, OpenWorldHint: &f},
	}, s.sessionsHandler(callerOf))
	s.addTriggersList(srv, callerOf)
}

// allowedModes are the query modes the server's mutation policy permits.
func (s *Server) allowedModes() []agentsv1alpha1.Mode {
	switch s.opts.Mutations {
	case MutationsAllow:
		return []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose, agentsv1alpha1.ModeAuto}
	case MutationsPropose:
		return []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose}
	}
	return []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly}
}

func (s *Server) askHandler(callerOf callerFunc, _ bool) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c, failed := s.begin(req, callerOf)
		if failed != nil {
			return failed, nil
		}
		var in AskInput
		if err := decodeStrict(req.Params.Arguments, &in); err != nil || strings.TrimSpace(in.Prompt) == "" {
			msg := "invalid arguments for ask: prompt is required"
			if err != nil {
				msg = "invalid arguments for ask: " + err.Error()
			}
			return c.finish(toolError(msg), audit.OutcomeToolError, msg), nil
		}
		mode := agentsv1alpha1.Mode(in.Mode)
		if mode == "" {
			mode = agentsv1alpha1.ModeReadOnly
		}
		if !slices.Contains(s.allowedModes(), mode) {
			msg := fmt.Sprintf("mode %q is not allowed on this MCP endpoint (--mcp-mutations=%s allows %v)", in.Mode, s.opts.Mutations, s.allowedModes())
			return c.finish(toolError(msg), audit.OutcomeRefused, msg), nil
		}
		ns := in.Namespace
		if ns == "" {
			ns = s.opts.DefaultNamespace
		}
		clients, err := s.envs.get(c.caller)
		if err != nil {
			return c.errorResult(err, audit.OutcomeRefused), nil
		}
		q := &agentsv1alpha1.AgentQuery{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "mcp-", Namespace: ns, Labels: map[string]string{SourceLabel: "mcp"}},
			Spec:       agentsv1alpha1.AgentQuerySpec{Prompt: in.Prompt, Model: in.Model, Profile: in.Profile, Mode: &mode},
		}
		if in.Session != "" {
			q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: in.Session}
		}
		// Created with the caller's clients: admission stamps the caller as the
		// requester, and the agent then acts as them.
		c.onAccess(tools.Access{Verb: "create", Resource: "agentqueries", Namespace: ns})
		if err := clients.client.Create(ctx, q); err != nil {
			return c.errorResult(err, ""), nil
		}
		c.query = &audit.QueryRef{Namespace: ns, Name: q.Name}
		out, err := s.waitForAnswer(ctx, req, clients.client, q)
		if err != nil {
			return c.errorResult(err, ""), nil
		}
		text := out.Answer
		switch agentsv1alpha1.QueryPhase(out.Phase) {
		case agentsv1alpha1.QuerySucceeded:
		case agentsv1alpha1.QueryAwaitingApproval:
			text = fmt.Sprintf("Query %s/%s waits for your approval of a proposed change. Review and approve it with: kubectl ask approve -n %s %s", ns, q.Name, ns, q.Name)
		case agentsv1alpha1.QueryFailed, agentsv1alpha1.QueryCancelled:
			text = fmt.Sprintf("Query %s/%s ended %s: %s", ns, q.Name, out.Phase, cmp(out.Answer, "no answer"))
		default:
			text = fmt.Sprintf("Query %s/%s is still %s after %s; read its answer later with: kubectl get agentquery -n %s %s -o yaml", ns, q.Name, cmp(out.Phase, "Pending"), s.opts.AskTimeout, ns, q.Name)
		}
		if out.Phase == string(agentsv1alpha1.QueryFailed) {
			return c.finish(toolError(text), audit.OutcomeToolError, ""), nil
		}
		return c.finish(&mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}, StructuredContent: out}, audit.OutcomeOK, ""), nil
	}
}

// waitForAnswer polls the query (as the caller) until it finishes, waits for
// approval or AskTimeout passes, sending a progress notification for each new step.
func (s *Server) waitForAnswer(ctx context.Context, req *mcp.CallToolRequest, c client.Client, q *agentsv1alpha1.AgentQuery) (*AskOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.AskTimeout)
	defer cancel()
	token := req.Params.GetProgressToken()
	reported := map[string]agentsv1alpha1.StepState{}
	progress := 0.0
	notify := func(msg string) {
		if token == nil || req.Session == nil {
			return
		}
		progress++
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: progress, Message: msg})
	}
	notify(fmt.Sprintf("created AgentQuery %s/%s", q.Namespace, q.Name))
	lastPhase := agentsv1alpha1.QueryPhase("")
	ticker := time.NewTicker(askPoll)
	defer ticker.Stop()
	for {
		got := &agentsv1alpha1.AgentQuery{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(q), got); err != nil {
			// The wait is over, or would be before client-go's rate limiter lets this read
			// go (it refuses a wait that outlasts the deadline instead of waiting): the
			// query goes on either way, and the caller is told where to read it.
			if ctx.Err() != nil || clientThrottled(err) {
				return summarize(q), nil
			}
			return nil, err
		}
		if got.Status.Phase != lastPhase && got.Status.Phase != "" {
			lastPhase = got.Status.Phase
			notify("phase " + string(lastPhase))
		}
		for _, st := range got.Status.Steps {
			if reported[st.ID] == st.State {
				continue
			}
			reported[st.ID] = st.State
			line := fmt.Sprintf("step %s: %s %s", st.ID, st.Tool, st.State)
			if st.Error != "" {
				line += ": " + firstLine(st.Error)
			}
			notify(line)
		}
		if got.Status.Phase.Finished() || got.Status.Phase == agentsv1alpha1.QueryAwaitingApproval {
			return summarize(got), nil
		}
		select {
		case <-ctx.Done():
			return summarize(got), nil
		case <-ticker.C:
		}
	}
}

func summarize(q *agentsv1alpha1.AgentQuery) *AskOutput {
	out := &AskOutput{Namespace: q.Namespace, Name: q.Name, Phase: string(q.Status.Phase), Answer: q.Status.Answer}
	for _, st := range q.Status.Steps {
		out.Steps = append(out.Steps, StepInfo{ID: st.ID, Tool: st.Tool, State: string(st.State), Error: st.Error})
	}
	if out.Answer == "" && q.Status.Phase.Finished() {
		for _, cond := range q.Status.Conditions {
			if cond.Status == metav1.ConditionFalse || cond.Type == "Failed" {
				out.Answer = cond.Message
			}
		}
	}
	return out
}

func (s *Server) sessionsHandler(callerOf callerFunc) mcp.ToolHandler {
	return listHandler(s, callerOf, ToolSessionsList, "agentsessions", "no sessions",
		func() *agentsv1alpha1.AgentSessionList { return &agentsv1alpha1.AgentSessionList{} },
		func(list *agentsv1alpha1.AgentSessionList) (any, []string) {
			out := SessionsOutput{Sessions: []SessionInfo{}}
			var lines []string
			for _, sess := range list.Items {
				info := SessionInfo{Namespace: sess.Namespace, Name: sess.Name, Model: sess.Spec.Model, Profile: sess.Spec.Profile,
					Queries: sess.Status.Queries, Participants: sess.Status.Participants}
				if sess.Spec.Requester != nil {
					info.Requester = sess.Spec.Requester.Username
				}
				if t := sess.Status.LastActivityTime; t != nil {
					info.LastActivity = t.UTC().Format(time.RFC3339)
				}
				out.Sessions = append(out.Sessions, info)
				lines = append(lines, fmt.Sprintf("%s/%s model=%s profile=%s queries=%d participants=%s last=%s",
					info.Namespace, info.Name, cmp(info.Model, "(default)"), cmp(info.Profile, "(default)"), info.Queries, strings.Join(info.Participants, ","), cmp(info.LastActivity, "-")))
			}
			return out, lines
		})
}

// classified turns a Kubernetes error into a readable tool error.
func classified(err error) *mcp.CallToolResult {
	res, cerr := tools.Classify(err)
	if cerr != nil || res == nil {
		return toolError("the call failed: " + err.Error())
	}
	return toolError(res.Text)
}

func outcomeOf(res *mcp.CallToolResult) string {
	if !res.IsError {
		return audit.OutcomeOK
	}
	if t, ok := res.Content[0].(*mcp.TextContent); ok && strings.HasPrefix(t.Text, "forbidden:") {
		return audit.OutcomeForbidden
	}
	return audit.OutcomeToolError
}

func decodeStrict(args json.RawMessage, into any) error {
	if len(strings.TrimSpace(string(args))) == 0 || string(args) == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(args)))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}
