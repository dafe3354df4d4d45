package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/mcp/audit"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/tools"
)

// Session transcripts are served as MCP resources.
const (
	// SessionURIPrefix starts the URI of every session transcript:
	// kubeask://sessions/<namespace>/<name>.
	SessionURIPrefix = "kubeask://sessions/"
	// SessionURITemplate is the RFC 6570 template of those URIs.
	SessionURITemplate = SessionURIPrefix + "{namespace}/{name}"
	// CodeForbidden is the JSON-RPC error code of a resource the API server refuses
	// the caller: an implementation-defined server error (-32000 to -32099) that
	// neither MCP (-32002, -32020 to -32022, -32042) nor the Go SDK
	// (-32001, -32003 to -32005, which its clients read as a closed connection) uses.
	CodeForbidden = -32011
	// maxCompletions bounds the values of one completion/complete answer (MCP: 100).
	maxCompletions = 100
	// maxNamespaceChecks bounds the namespaces checked with access reviews for a
	// caller who may not list namespaces.
	maxNamespaceChecks = 64
	// maxListedSessions bounds resources/list.
	maxListedSessions = 500
)

// SessionURI is the resource URI of a session transcript.
func SessionURI(namespace, name string) string {
	return SessionURIPrefix + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// parseSessionURI splits kubeask://sessions/<namespace>/<name>.
func parseSessionURI(uri string) (namespace, name string, ok bool) {
	rest, found := strings.CutPrefix(uri, SessionURIPrefix)
	if !found {
		return "", "", false
	}
	ns, n, found := strings.Cut(rest, "/")
	if !found || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", false
	}
	var err1, err2 error
	ns, err1 = url.PathUnescape(ns)
	n, err2 = url.PathUnescape(n)
	return ns, n, err1 == nil && err2 == nil
}

// extraCaller finds the caller of a non-tool request with the server's callerFunc.
func extraCaller(callerOf callerFunc, extra *mcp.RequestExtra) (*auth.Caller, string) {
	return callerOf(&mcp.CallToolRequest{Extra: extra})
}

// addResources serves session transcripts: a template for resources/read, and
// resources/list answered per caller (the SDK's list holds only static resources).
func (s *Server) addResources(srv *mcp.Server, callerOf callerFunc) {
	srv.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: SessionURITemplate,
		Name:        "session",
		Title:       "kubeask session transcript",
		Description: "A kubeask session (a shared conversation with the agent): each question, who asked it, and the answer, read with your own permissions.",
		MIMEType:    "text/markdown",
	}, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return s.readSession(ctx, req, callerOf)
	})
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method != "resources/list" {
				return next(ctx, method, req)
			}
			caller, _ := extraCaller(callerOf, req.GetExtra())
			return s.listSessionResources(ctx, caller)
		}
	})
}

// callerClientsFor builds (or reuses) the caller's clients, as an error a JSON-RPC
// client understands.
func (s *Server) callerClientsFor(caller *auth.Caller) (*callerClients, error) {
	if caller == nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the request carries no verified caller"}
	}
	clients, err := s.envs.get(caller)
	if err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the server could not build clients for you: " + err.Error()}
	}
	return clients, nil
}

// forbiddenError is the JSON-RPC error of a read the API server refused the caller.
func forbiddenError(uri string, err error) error {
	data, merr := json.Marshal(map[string]string{"uri": uri, "reason": err.Error()})
	if merr != nil {
		data = nil
	}
	return &jsonrpc.Error{Code: CodeForbidden, Message: "Forbidden: " + err.Error(), Data: data}
}

// readSession reads a session and its queries as the caller and renders the
// transcript. The read is audited like a tool call (tool "resources/read").
func (s *Server) readSession(ctx context.Context, req *mcp.ReadResourceRequest, callerOf callerFunc) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	caller, remote := extraCaller(callerOf, req.GetExtra())
	args, err := json.Marshal(map[string]string{"uri": uri})
	if err != nil {
		return nil, err
	}
	c := &call{s: s, caller: caller, remote: remote, tool: "resources/read", args: args, start: time.Now()}
	if info := req.Session.InitializeParams(); info != nil && info.ClientInfo != nil {
		c.client = strings.TrimSpace(info.ClientInfo.Name + " " + info.ClientInfo.Version)
	}
	if caller == nil {
		c.caller = &auth.Caller{}
	}
	fail := func(outcome string, err error) (*mcp.ReadResourceResult, error) {
		c.finish(nil, outcome, err.Error())
		return nil, err
	}
	ns, name, ok := parseSessionURI(uri)
	if !ok {
		return fail(audit.OutcomeToolError, mcp.ResourceNotFoundError(uri))
	}
	clients, err := s.callerClientsFor(caller)
	if err != nil {
		return fail(audit.OutcomeFailed, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ToolTimeout)
	defer cancel()
	sess := &agentsv1alpha1.AgentSession{}
	c.onAccess(tools.Access{Verb: "get", Resource: "agentsessions", Namespace: ns, Name: name})
	if err := clients.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sess); err != nil {
		return fail(resourceError(uri, err))
	}
	queries := &agentsv1alpha1.AgentQueryList{}
	c.onAccess(tools.Access{Verb: "list", Resource: "agentqueries", Namespace: ns})
	if err := clients.client.List(ctx, queries, client.InNamespace(ns)); err != nil {
		return fail(resourceError(uri, err))
	}
	c.finish(nil, audit.OutcomeOK, "")
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
		URI: uri, MIMEType: "text/markdown", Text: transcript(sess, queries.Items),
	}}}, nil
}

// resourceError maps a Kubernetes error to a JSON-RPC error and an audit outcome.
func resourceError(uri string, err error) (string, error) {
	switch {
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return audit.OutcomeForbidden, forbiddenError(uri, err)
	case apierrors.IsNotFound(err):
		return audit.OutcomeToolError, mcp.ResourceNotFoundError(uri)
	}
	return audit.OutcomeFailed, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "reading " + uri + ": " + err.Error()}
}

// transcript renders a session as Markdown: each question in the order asked, who
// asked it, and its answer or how it ended.
func transcript(sess *agentsv1alpha1.AgentSession, all []agentsv1alpha1.AgentQuery) string {
	var turns []agentsv1alpha1.AgentQuery
	for _, q := range all {
		if q.Spec.SessionRef != nil && q.Spec.SessionRef.Name == sess.Name {
			turns = append(turns, q)
		}
	}
	sort.SliceStable(turns, func(i, j int) bool {
		a, b := turns[i].CreationTimestamp, turns[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return turns[i].Name < turns[j].Name
	})
	var b strings.Builder
	fmt.Fprintf(&b, "# Session %s/%s\n\n", sess.Namespace, sess.Name)
	fmt.Fprintf(&b, "Model: %s. Profile: %s. Participants: %s.\n", cmp(sess.Spec.Model, "(default)"), cmp(sess.Spec.Profile, "(default)"),
		cmp(strings.Join(sess.Status.Participants, ", "), "none yet"))
	if len(turns) == 0 {
		b.WriteString("\nNo questions yet.\n")
	}
	for i := range turns {
		q := &turns[i]
		who := "someone"
		if q.Spec.Requester != nil {
			who = q.Spec.Requester.Username
		}
		fmt.Fprintf(&b, "\n## %s asked (%s, %s)\n\n%s\n\n", who, q.CreationTimestamp.UTC().Format(time.RFC3339), q.Name, q.Spec.Prompt)
		out := summarize(q)
		switch {
		case q.Status.Phase == agentsv1alpha1.QuerySucceeded:
			fmt.Fprintf(&b, "**Answer:**\n\n%s\n", out.Answer)
		case q.Status.Phase.Finished():
			fmt.Fprintf(&b, "**%s:** %s\n", q.Status.Phase, out.Answer)
		default:
			fmt.Fprintf(&b, "(%s)\n", cmp(string(q.Status.Phase), "Pending"))
		}
	}
	return b.String()
}

// listSessionResources lists the sessions the caller may read: in every namespace when
// they may list sessions cluster-wide, else in each namespace where an access review
// made as them allows it.
func (s *Server) listSessionResources(ctx context.Context, caller *auth.Caller) (*mcp.ListResourcesResult, error) {
	clients, err := s.callerClientsFor(caller)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ToolTimeout)
	defer cancel()
	var sessions []agentsv1alpha1.AgentSession
	all := &agentsv1alpha1.AgentSessionList{}
	switch err := clients.client.List(ctx, all, client.Limit(maxListedSessions)); {
	case err == nil:
		sessions = all.Items
	case apierrors.IsForbidden(err):
		namespaces, err := s.callerNamespaces(ctx, clients, "", "agents.kubeask.dev", "agentsessions")
		if err != nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
		}
		for _, ns := range namespaces {
			l := &agentsv1alpha1.AgentSessionList{}
			if err := clients.client.List(ctx, l, client.InNamespace(ns), client.Limit(maxListedSessions)); err != nil {
				continue // refused there after all: the caller reads only what they may
			}
			sessions = append(sessions, l.Items...)
			if len(sessions) >= maxListedSessions {
				break
			}
		}
	default:
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "listing sessions: " + err.Error()}
	}
	res := &mcp.ListResourcesResult{Resources: []*mcp.Resource{}}
	for _, sess := range sessions {
		desc := fmt.Sprintf("%d questions", sess.Status.Queries)
		if len(sess.Status.Participants) > 0 {
			desc += " by " + strings.Join(sess.Status.Participants, ", ")
		}
		res.Resources = append(res.Resources, &mcp.Resource{
			URI: SessionURI(sess.Namespace, sess.Name), Name: sess.Namespace + "/" + sess.Name,
			Title: "Session " + sess.Namespace + "/" + sess.Name, Description: desc, MIMEType: "text/markdown",
		})
	}
	return res, nil
}

// callerNamespaces are the namespaces starting with prefix the caller may use: those
// they may list themselves, or, when they may not list namespaces, those (of the
// cluster's, listed by the operator, at most maxNamespaceChecks) where an access
// review made as them allows list on group/resource. The answer is always decided by
// the API server as the caller, never read from the manager's cache.
func (s *Server) callerNamespaces(ctx context.Context, clients *callerClients, prefix, group, resource string) ([]string, error) {
	cs, err := clients.env.Clientset()
	if err != nil {
		return nil, err
	}
	own, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	switch {
	case err == nil:
		var out []string
		for _, ns := range own.Items {
			if strings.HasPrefix(ns.Name, prefix) {
				out = append(out, ns.Name)
			}
		}
		return out, nil
	case !apierrors.IsForbidden(err):
		return nil, err
	}
	candidates := []string{}
	if op, err := s.operatorClientset(); err == nil {
		if l, err := op.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err == nil {
			for _, ns := range l.Items {
				candidates = append(candidates, ns.Name)
			}
		}
	}
	if s.opts.DefaultNamespace != "" && !slices.Contains(candidates, s.opts.DefaultNamespace) {
		candidates = append(candidates, s.opts.DefaultNamespace)
	}
	candidates = slices.DeleteFunc(candidates, func(ns string) bool { return !strings.HasPrefix(ns, prefix) })
	sort.Strings(candidates)
	candidates = candidates[:min(len(candidates), maxNamespaceChecks)]
	allowed := make([]bool, len(candidates))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, ns := range candidates {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			review, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: "list", Group: group, Resource: resource,
				}},
			}, metav1.CreateOptions{})
			allowed[i] = err == nil && review.Status.Allowed
		}()
	}
	wg.Wait()
	var out []string
	for i, ns := range candidates {
		if allowed[i] {
			out = append(out, ns)
		}
	}
	return out, nil
}

// operatorClientset is the operator's own clientset, used only to name candidate
// namespaces whose use the caller's own access reviews then decide.
func (s *Server) operatorClientset() (kubernetes.Interface, error) {
	s.operatorOnce.Do(func() { s.operator, s.operatorErr = kubernetes.NewForConfig(s.cfg.RESTConfig) })
	return s.operator, s.operatorErr
}

// completion answers completion/complete for the prompts' namespace and session
// arguments and the session template's namespace and name, as the caller.
func (s *Server) completion(callerOf callerFunc) func(context.Context, *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	return func(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
		p := req.Params
		if p == nil || p.Ref == nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "completion/complete needs a ref"}
		}
		var kind string // "namespace", "session" or ""
		nsGroup, nsResource := "", "pods"
		switch {
		case p.Ref.Type == "ref/prompt" && s.hasPrompt(p.Ref.Name):
			kind = map[string]string{"namespace": "namespace", "session": "session"}[p.Argument.Name]
		case p.Ref.Type == "ref/resource" && p.Ref.URI == SessionURITemplate:
			kind = map[string]string{"namespace": "namespace", "name": "session"}[p.Argument.Name]
			nsGroup, nsResource = "agents.kubeask.dev", "agentsessions"
		case p.Ref.Type == "ref/prompt":
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown prompt %q", p.Ref.Name)}
		case p.Ref.Type == "ref/resource":
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown resource template %q", p.Ref.URI)}
		}
		empty := &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{}}}
		if kind == "" {
			return empty, nil
		}
		caller, _ := extraCaller(callerOf, req.GetExtra())
		clients, err := s.callerClientsFor(caller)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, s.opts.ToolTimeout)
		defer cancel()
		var values []string
		switch kind {
		case "namespace":
			if values, err = s.callerNamespaces(ctx, clients, p.Argument.Value, nsGroup, nsResource); err != nil {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
			}
		case "session":
			ns := s.opts.DefaultNamespace
			if p.Context != nil && p.Context.Arguments["namespace"] != "" {
				ns = p.Context.Arguments["namespace"]
			}
			l := &agentsv1alpha1.AgentSessionList{}
			if err := clients.client.List(ctx, l, client.InNamespace(ns)); err != nil {
				// What the caller may not list completes to nothing.
				return empty, nil
			}
			for _, sess := range l.Items {
				if strings.HasPrefix(sess.Name, p.Argument.Value) {
					values = append(values, sess.Name)
				}
			}
		}
		sort.Strings(values)
		res := &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{}, Total: len(values)}}
		if len(values) > maxCompletions {
			values, res.Completion.HasMore = values[:maxCompletions], true
		}
		res.Completion.Values = append(res.Completion.Values, values...)
		return res, nil
	}
}

func (s *Server) hasPrompt(name string) bool {
	if s.cfg.Catalog == nil {
		return false
	}
	for _, p := range s.cfg.Catalog.Profiles {
		if p.Name == name {
			return true
		}
	}
	return false
}
