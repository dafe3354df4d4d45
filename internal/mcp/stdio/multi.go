package stdio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/client-go/rest"
)

// ContextArgument is the argument every tool and prompt of the multi-cluster server
// takes: the kubeconfig context whose cluster runs the call.
const ContextArgument = "context"

// ContextsTool is the multi-cluster server's own tool: it lists the contexts it serves
// and whether their endpoints answer. Its name cannot be a kubeask tool's (they have an
// underscore-separated verb and no kubeask_ prefix).
const ContextsTool = "kubeask_contexts"

// Cluster is one kubeconfig context the multi-cluster server serves.
type Cluster struct {
	// Context is the kubeconfig context's name: a value of the context argument.
	Context string
	// Endpoint is the URL of the kubeask MCP endpoint of the context's cluster.
	Endpoint string
	// Config holds the context's credentials; only its bearer token is sent, and only
	// to Endpoint.
	Config *rest.Config
	// Err, when set, is why the context cannot be used (its kubeconfig entry is
	// broken): its calls fail with it, the others work.
	Err error
}

// MultiOptions tune ServeMulti.
type MultiOptions struct {
	// HTTPClient reaches the endpoints (TLS settings); nil means the system roots. Its
	// transport gets each context's credentials added, for that context's endpoint only.
	HTTPClient *http.Client
	// AllowInsecureHTTP lets plain HTTP carry tokens to hosts other than this machine.
	AllowInsecureHTTP bool
	// ConnectTimeout bounds connecting to one endpoint (default 10 s).
	ConnectTimeout time.Duration
	// RetryAfter is how long an endpoint that could not be reached is not tried again
	// for a tools/list (default 30 s); a call to its context always tries.
	RetryAfter time.Duration
	// Log receives one line per endpoint that cannot be reached or whose tools cannot
	// be served (a stdio server's standard error, which MCP clients show in their logs).
	Log io.Writer
}

// ServeMulti serves one MCP server on in/out (newline-delimited JSON-RPC, as on stdio)
// whose tools run in the cluster of any of clusters: each takes a context argument (an
// enum of the contexts, defaultContext when absent) and the call is forwarded to that
// context's endpoint with that context's own bearer token, so each cluster's kubeask
// acts as whoever that context authenticates. tools/list is the union of the
// endpoints' tools; an endpoint that cannot be reached is reported by each call to its
// context (a tool error), never at startup, and is tried again on the next call.
//
// Every endpoint is checked like Bridge's (HTTPS, or plain HTTP to this machine), and
// each context's token goes only to its own endpoint's scheme, host and port: a
// redirect fails instead of carrying it.
func ServeMulti(ctx context.Context, clusters []Cluster, defaultContext string, in io.Reader, out io.Writer, opts *MultiOptions) error {
	m, err := newMulti(clusters, defaultContext, opts)
	if err != nil {
		return err
	}
	defer m.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.ctx = ctx
	go m.connectAll(ctx)
	err = m.server.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(in), Writer: nopCloser{out}})
	if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) || errors.Is(err, mcp.ErrConnectionClosed)) {
		return nil
	}
	return err
}

// multi is the multi-cluster server.
type multi struct {
	// ctx ends when ServeMulti returns; background connections use it.
	ctx      context.Context
	server   *mcp.Server
	clusters []*remote // in the order given
	byName   map[string]*remote
	def      string
	opts     MultiOptions
	// started ends when the first connection attempt to every endpoint has ended:
	// tools/list waits for it, so that the first list already holds the union.
	started chan struct{}
	// local is the stdio client's session (for progress and elicitation).
	local atomic.Pointer[mcp.ServerSession]
	// progress maps the progress tokens sent to endpoints to the stdio client's.
	progress sync.Map // string -> progressTarget
	nextID   atomic.Int64

	mu sync.Mutex // serializes registrations
	// served holds the JSON of each tool and prompt registered on server, by kind and
	// name, so that an unchanged one is not registered (and announced) again.
	served map[string]string
}

// progressGrace is how long the progress of a call that returned is still relayed.
const progressGrace = 5 * time.Second

type progressTarget struct {
	session *mcp.ServerSession
	token   any
}

// remote is one context's endpoint.
type remote struct {
	Cluster
	m  *multi
	hc *http.Client

	// connMu is held while connecting, so that concurrent calls wait for one attempt.
	connMu sync.Mutex

	mu      sync.Mutex // guards the state below; never held across the network
	session *mcp.ClientSession
	lastErr error
	lastTry time.Time
	// tools and prompts are what the endpoint served when last connected (nil before).
	tools   map[string]*mcp.Tool
	prompts map[string]*mcp.Prompt
}

func newMulti(clusters []Cluster, defaultContext string, opts *MultiOptions) (*multi, error) {
	m := &multi{byName: map[string]*remote{}, started: make(chan struct{}), served: map[string]string{}}
	if opts != nil {
		m.opts = *opts
	}
	if m.opts.ConnectTimeout <= 0 {
		m.opts.ConnectTimeout = 10 * time.Second
	}
	if m.opts.RetryAfter <= 0 {
		m.opts.RetryAfter = 30 * time.Second
	}
	if m.opts.Log == nil {
		m.opts.Log = io.Discard
	}
	if len(clusters) == 0 {
		return nil, errors.New("no contexts to serve")
	}
	for _, c := range clusters {
		if c.Context == "" {
			return nil, errors.New("a context without a name")
		}
		if m.byName[c.Context] != nil {
			return nil, fmt.Errorf("context %q is given twice", c.Context)
		}
		r := &remote{Cluster: c, m: m}
		if r.Err == nil {
			r.hc, r.Err = m.httpClientFor(c)
		}
		m.byName[c.Context] = r
		m.clusters = append(m.clusters, r)
	}
	if m.byName[defaultContext] == nil {
		return nil, fmt.Errorf("the default context %q is not one of the contexts served", defaultContext)
	}
	m.def = defaultContext
	m.server = mcp.NewServer(&mcp.Implementation{Name: "kubeask-contexts", Title: "kubeask (several clusters)", Version: "v0.1.0"}, &mcp.ServerOptions{
		Instructions: m.instructions(),
		// Tools and prompts arrive as endpoints answer: the client is told the lists
		// changed.
		Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{ListChanged: true}, Prompts: &mcp.PromptCapabilities{ListChanged: true}},
	})
	m.server.AddReceivingMiddleware(m.middleware)
	m.server.AddTool(&mcp.Tool{
		Name:  ContextsTool,
		Title: "Kubernetes contexts",
		Description: "List the kubeconfig contexts (clusters) the other tools can run in, which one is the default, " +
			"each one's kubeask endpoint and whether it answers. Every other tool takes a `context` argument naming one of them.",
		InputSchema: map[string]any{"type": "object", "properties": map[string]any{}},
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: new(false)},
	}, m.listContexts)
	return m, nil
}

func (m *multi) httpClientFor(c Cluster) (*http.Client, error) {
	target, err := CheckEndpoint(c.Endpoint, m.opts.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	creds, err := credentialsFor(c.Config)
	if err != nil {
		return nil, err
	}
	base := http.DefaultTransport
	hc := &http.Client{}
	if m.opts.HTTPClient != nil {
		hc.Timeout = m.opts.HTTPClient.Timeout
		if m.opts.HTTPClient.Transport != nil {
			base = m.opts.HTTPClient.Transport
		}
	}
	// The SDK's client sets the protocol version header itself: no version to add.
	version := &atomic.Value{}
	version.Store("")
	hc.Transport = &authorizing{credentials: creds, base: base, version: version, scheme: target.Scheme, host: target.Host}
	return hc, nil
}

func (m *multi) contextNames() []string {
	names := make([]string, 0, len(m.clusters))
	for _, r := range m.clusters {
		names = append(names, r.Context)
	}
	return names
}

func (m *multi) instructions() string {
	return fmt.Sprintf("These tools reach several Kubernetes clusters, each through its own kubeask endpoint and as the user its kubeconfig context authenticates. "+
		"Every tool takes a %q argument naming the kubeconfig context (cluster) to run in: %s; without it the tool runs in %q. "+
		"A cluster that cannot be reached fails only the calls made to it. %s lists the contexts and whether they answer.",
		ContextArgument, strings.Join(m.contextNames(), ", "), m.def, ContextsTool)
}

// middleware remembers the stdio client's session, makes the first tools/list and
// prompts/list wait for the first connection attempts, and has later ones try again,
// in the background, the endpoints that could not be reached.
func (m *multi) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if ss, ok := req.GetSession().(*mcp.ServerSession); ok {
			m.local.Store(ss)
		}
		if method == "tools/list" || method == "prompts/list" {
			select {
			case <-m.started:
				m.retryUnreachable()
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return next(ctx, method, req)
	}
}

// connectAll makes the first connection attempt to every endpoint, in parallel.
func (m *multi) connectAll(ctx context.Context) {
	defer close(m.started)
	var wg sync.WaitGroup
	for _, r := range m.clusters {
		wg.Go(func() {
			if _, err := r.connect(ctx); err != nil {
				fmt.Fprintf(m.opts.Log, "kubectl ask mcp: context %q: %v; its calls fail until it answers\n", r.Context, err)
			}
		})
	}
	wg.Wait()
}

// retryUnreachable tries again, in the background, the endpoints not connected whose
// last attempt is older than RetryAfter; their tools appear when they answer (the
// client is told that the list changed).
func (m *multi) retryUnreachable() {
	for _, r := range m.clusters {
		r.mu.Lock()
		stale := r.session == nil && r.Err == nil && time.Since(r.lastTry) > m.opts.RetryAfter
		r.mu.Unlock()
		if stale {
			go func() { _, _ = r.connect(m.ctx) }()
		}
	}
}

func (m *multi) close() {
	for _, r := range m.clusters {
		r.mu.Lock()
		if r.session != nil {
			_ = r.session.Close()
			r.session = nil
		}
		r.mu.Unlock()
	}
}

// connect returns the session with the context's endpoint, connecting if there is none.
func (r *remote) connect(ctx context.Context) (*mcp.ClientSession, error) {
	if r.Err != nil {
		return nil, r.Err
	}
	r.connMu.Lock()
	defer r.connMu.Unlock()
	r.mu.Lock()
	cs := r.session
	r.lastTry = time.Now()
	r.mu.Unlock()
	if cs != nil {
		return cs, nil
	}
	cctx, cancel := context.WithTimeout(ctx, r.m.opts.ConnectTimeout)
	defer cancel()
	cs, tools, prompts, err := r.dial(cctx)
	r.mu.Lock()
	if err != nil {
		r.lastErr = fmt.Errorf("cannot connect to its kubeask endpoint %s: %w", r.Endpoint, err)
		err = r.lastErr
	} else {
		r.session, r.tools, r.prompts, r.lastErr = cs, tools, prompts, nil
	}
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	r.m.register()
	return cs, nil
}

func (r *remote) dial(ctx context.Context) (*mcp.ClientSession, map[string]*mcp.Tool, map[string]*mcp.Prompt, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "kubectl-ask-mcp", Version: "v0.1.0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: r.m.relayProgress,
		ElicitationHandler:          r.relayElicitation,
	})
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: r.Endpoint, HTTPClient: r.hc, DisableStandaloneSSE: true, MaxRetries: -1}, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	tools := map[string]*mcp.Tool{}
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			_ = cs.Close()
			return nil, nil, nil, fmt.Errorf("listing its tools: %w", err)
		}
		tools[t.Name] = t
	}
	prompts := map[string]*mcp.Prompt{}
	if caps := cs.InitializeResult().Capabilities; caps != nil && caps.Prompts != nil {
		for p, err := range cs.Prompts(ctx, nil) {
			if err != nil {
				_ = cs.Close()
				return nil, nil, nil, fmt.Errorf("listing its prompts: %w", err)
			}
			prompts[p.Name] = p
		}
	}
	return cs, tools, prompts, nil
}

// drop forgets a session that failed, so that the next call connects again.
func (r *remote) drop(cs *mcp.ClientSession, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session == cs {
		_ = cs.Close()
		r.session = nil
		r.lastErr = err
	}
}

// snapshot is what is known of a context's endpoint.
type snapshot struct {
	context   string
	endpoint  string
	connected bool
	err       error
	// tools and prompts are nil while the endpoint was never reached.
	tools   map[string]*mcp.Tool
	prompts map[string]*mcp.Prompt
}

func (r *remote) snapshot() snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := snapshot{context: r.Context, endpoint: r.Endpoint, connected: r.session != nil, tools: r.tools, prompts: r.prompts}
	switch {
	case r.Err != nil:
		s.err = r.Err
	case r.lastErr != nil:
		s.err = r.lastErr
	case !s.connected:
		s.err = errors.New("not connected yet")
	}
	return s
}

// register serves the union of the tools and prompts of the endpoints reached so far.
func (m *multi) register() {
	m.mu.Lock()
	defer m.mu.Unlock()
	// The default context's definitions win when endpoints differ, then the others'
	// in the order given.
	snaps := []snapshot{m.byName[m.def].snapshot()}
	for _, r := range m.clusters {
		if r.Context != m.def {
			snaps = append(snaps, r.snapshot())
		}
	}
	contexts := m.contextNames()
	for _, t := range unionTools(snaps) {
		tool, err := withContextArgument(t.tool, contexts, m.def, t.missing)
		if err != nil {
			fmt.Fprintf(m.opts.Log, "kubectl ask mcp: not serving tool %q: %v\n", t.tool.Name, err)
			continue
		}
		if m.changed("tool/"+tool.Name, tool) {
			m.server.AddTool(tool, m.callTool)
		}
	}
	for _, p := range unionPrompts(snaps) {
		prompt, err := promptWithContextArgument(p.prompt, contexts, m.def, p.missing)
		if err != nil {
			fmt.Fprintf(m.opts.Log, "kubectl ask mcp: not serving prompt %q: %v\n", p.prompt.Name, err)
			continue
		}
		if m.changed("prompt/"+prompt.Name, prompt) {
			m.server.AddPrompt(prompt, m.getPrompt)
		}
	}
}

// changed records v as served under key and reports whether it differs from before.
func (m *multi) changed(key string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return true
	}
	if m.served[key] == string(b) {
		return false
	}
	m.served[key] = string(b)
	return true
}

// unionEntry is one tool (or prompt) of the union: the definition served (that of the
// first context, in order, that has it) and the contexts known not to have it.
type unionEntry[T any] struct {
	def     T
	missing []string
}

func union[T any](snaps []snapshot, of func(snapshot) map[string]T) []unionEntry[T] {
	var out []unionEntry[T]
	seen := map[string]bool{}
	for _, s := range snaps {
		items := of(s)
		for _, name := range slices.Sorted(maps.Keys(items)) {
			if seen[name] {
				continue
			}
			seen[name] = true
			e := unionEntry[T]{def: items[name]}
			for _, o := range snaps {
				if other := of(o); other != nil {
					if _, ok := other[name]; !ok {
						e.missing = append(e.missing, o.context)
					}
				}
			}
			out = append(out, e)
		}
	}
	return out
}

type toolEntry struct {
	tool    *mcp.Tool
	missing []string
}

type promptEntry struct {
	prompt  *mcp.Prompt
	missing []string
}

// unionTools is the union of the contexts' tools, in the contexts' order, a tool's
// definition being that of the first context that has it.
func unionTools(snaps []snapshot) []toolEntry {
	var out []toolEntry
	for _, e := range union(snaps, func(s snapshot) map[string]*mcp.Tool { return s.tools }) {
		out = append(out, toolEntry{tool: e.def, missing: e.missing})
	}
	return out
}

func unionPrompts(snaps []snapshot) []promptEntry {
	var out []promptEntry
	for _, e := range union(snaps, func(s snapshot) map[string]*mcp.Prompt { return s.prompts }) {
		out = append(out, promptEntry{prompt: e.def, missing: e.missing})
	}
	return out
}

// contextProperty is the JSON schema of the context argument.
func contextProperty(contexts []string, def string) map[string]any {
	return map[string]any{
		"type":        "string",
		"enum":        slices.Clone(contexts),
		"default":     def,
		"description": fmt.Sprintf("The kubeconfig context (cluster) to run in; default %q.", def),
	}
}

// notServedIn is the note appended to a description when some contexts lack the
// tool or prompt.
func notServedIn(missing []string) string {
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("\n\nNot available in context(s) %s: their kubeask endpoints do not serve it.", strings.Join(missing, ", "))
}

// withContextArgument returns the tool as served by the multi-cluster server: its input
// schema gains the context argument (an enum of contexts, default def), and its
// description says in which contexts it is missing. A tool whose input already has an
// argument named context cannot be served.
func withContextArgument(t *mcp.Tool, contexts []string, def string, missing []string) (*mcp.Tool, error) {
	var schema map[string]any
	b, err := json.Marshal(t.InputSchema)
	if err != nil {
		return nil, fmt.Errorf("its input schema: %w", err)
	}
	if err := json.Unmarshal(b, &schema); err != nil || schema == nil {
		return nil, fmt.Errorf("its input schema is not a JSON object")
	}
	if schema["type"] != "object" {
		return nil, fmt.Errorf("its input schema is not of type object")
	}
	props, _ := schema["properties"].(map[string]any)
	if props == nil {
		if schema["properties"] != nil {
			return nil, fmt.Errorf("its input schema's properties are not an object")
		}
		props = map[string]any{}
	}
	if _, taken := props[ContextArgument]; taken {
		return nil, fmt.Errorf("it already has an argument named %q", ContextArgument)
	}
	props[ContextArgument] = contextProperty(contexts, def)
	schema["properties"] = props
	out := *t
	out.InputSchema = schema
	out.Description = t.Description + notServedIn(missing)
	return &out, nil
}

// promptWithContextArgument is withContextArgument for a prompt: it gains an optional
// context argument.
func promptWithContextArgument(p *mcp.Prompt, contexts []string, def string, missing []string) (*mcp.Prompt, error) {
	out := *p
	out.Arguments = nil
	for _, a := range p.Arguments {
		if a.Name == ContextArgument {
			return nil, fmt.Errorf("it already has an argument named %q", ContextArgument)
		}
		out.Arguments = append(out.Arguments, a)
	}
	out.Arguments = append(out.Arguments, &mcp.PromptArgument{
		Name:        ContextArgument,
		Title:       "Kubernetes context",
		Description: fmt.Sprintf("The kubeconfig context (cluster) to run in, one of %s; default %q.", strings.Join(contexts, ", "), def),
	})
	out.Description = p.Description + notServedIn(missing)
	return &out, nil
}

// pick returns the context an argument names (the default when it is absent).
func (m *multi) pick(raw json.RawMessage) (*remote, error) {
	name := m.def
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &name); err != nil {
			return nil, fmt.Errorf("the %s argument must be a string, one of: %s", ContextArgument, strings.Join(m.contextNames(), ", "))
		}
		if name == "" {
			name = m.def
		}
	}
	return m.pickName(name)
}

func (m *multi) pickName(name string) (*remote, error) {
	r := m.byName[name]
	if r == nil {
		return nil, fmt.Errorf("unknown context %q: the contexts are %s", name, strings.Join(m.contextNames(), ", "))
	}
	return r, nil
}

func toolError(format string, args ...any) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf(format, args...)}}}
}

// callTool forwards a call to the endpoint of the context it names, without the
// context argument. Whatever keeps the call from reaching that endpoint is a tool error
// that names the context, so the model can read it and go on with the others.
func (m *multi) callTool(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	name := req.Params.Name
	args := map[string]json.RawMessage{}
	if raw := req.Params.Arguments; len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &args); err != nil {
			return toolError("the arguments of %s must be a JSON object: %v", name, err), nil
		}
	}
	r, err := m.pick(args[ContextArgument])
	if err != nil {
		return toolError("%v", err), nil
	}
	delete(args, ContextArgument)
	cs, err := r.connect(ctx)
	if err != nil {
		return toolError("context %q: %v. Calls to the other contexts are not affected (%s lists them).", r.Context, err, ContextsTool), nil
	}
	if tools := r.snapshot().tools; tools[name] == nil {
		return toolError("context %q: its kubeask endpoint has no tool %q (it runs another version of kubeask).", r.Context, name), nil
	}
	params := &mcp.CallToolParams{Name: name, Arguments: args}
	if tok := req.Params.GetProgressToken(); tok != nil && req.Session != nil {
		id := fmt.Sprintf("%s/%d", r.Context, m.nextID.Add(1))
		m.progress.Store(id, progressTarget{session: req.Session, token: tok})
		// The SDK hands notifications to their handler concurrently with the result:
		// the last ones may be handled just after the call returns.
		defer time.AfterFunc(progressGrace, func() { m.progress.Delete(id) })
		params.SetProgressToken(id)
	}
	res, err := cs.CallTool(ctx, params)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if rpcErr := (*jsonrpc.Error)(nil); errors.As(err, &rpcErr) {
			// The endpoint answered, with a protocol error (e.g. invalid arguments).
			return toolError("context %q: %v", r.Context, rpcErr), nil
		}
		r.drop(cs, fmt.Errorf("the last call to its kubeask endpoint %s failed: %w", r.Endpoint, err))
		return toolError("context %q: the call to its kubeask endpoint %s failed: %v", r.Context, r.Endpoint, err), nil
	}
	return res, nil
}

// getPrompt forwards a prompt request like callTool does a call.
func (m *multi) getPrompt(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	args := maps.Clone(req.Params.Arguments)
	name := args[ContextArgument]
	delete(args, ContextArgument)
	if name == "" {
		name = m.def
	}
	r, err := m.pickName(name)
	if err != nil {
		return nil, err
	}
	cs, err := r.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", r.Context, err)
	}
	if prompts := r.snapshot().prompts; prompts[req.Params.Name] == nil {
		return nil, fmt.Errorf("context %q: its kubeask endpoint has no prompt %q", r.Context, req.Params.Name)
	}
	res, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: req.Params.Name, Arguments: args})
	if err != nil {
		if rpcErr := (*jsonrpc.Error)(nil); !errors.As(err, &rpcErr) && ctx.Err() == nil {
			r.drop(cs, fmt.Errorf("the last request to its kubeask endpoint %s failed: %w", r.Endpoint, err))
		}
		return nil, fmt.Errorf("context %q: %w", r.Context, err)
	}
	return res, nil
}

// listContexts is the kubeask_contexts tool.
func (m *multi) listContexts(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	var b strings.Builder
	for _, r := range m.clusters {
		s := r.snapshot()
		fmt.Fprintf(&b, "%s", s.context)
		if s.context == m.def {
			b.WriteString(" (default)")
		}
		fmt.Fprintf(&b, ": endpoint %s, ", s.endpoint)
		if s.connected {
			fmt.Fprintf(&b, "connected, %d tools\n", len(s.tools))
		} else {
			fmt.Fprintf(&b, "not reachable: %v\n", s.err)
		}
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: b.String()}}}, nil
}

// relayProgress passes an endpoint's progress notification to the stdio client, with
// the client's own progress token.
func (m *multi) relayProgress(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
	id, _ := req.Params.ProgressToken.(string)
	v, ok := m.progress.Load(id)
	if !ok {
		return
	}
	t := v.(progressTarget)
	_ = t.session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
		ProgressToken: t.token, Message: req.Params.Message, Progress: req.Params.Progress, Total: req.Params.Total,
	})
}

// relayElicitation asks the stdio client what an endpoint asks (the confirmation of a
// change in propose mode), saying which context asks.
func (r *remote) relayElicitation(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
	ss := r.m.local.Load()
	if ss == nil {
		return nil, errors.New("no MCP client to ask")
	}
	params := *req.Params
	params.Message = fmt.Sprintf("[context %s] %s", r.Context, req.Params.Message)
	return ss.Elicit(ctx, &params)
}
