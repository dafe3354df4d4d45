package mcp_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kmcp "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/mcp/auth"
)

// Each caller has its own bucket: alice exhausting hers gets 429 with Retry-After,
// bob is unaffected.
func TestRateLimitPerCaller(t *testing.T) {
	ts := newServer(t, func(c *kmcp.Config) { c.Options.RateLimit, c.Options.RateBurst = 0.5, 3 })
	for i := range 3 {
		if code, _ := rawPost(t, ts.URL, aliceToken, initializeBody); code != http.StatusOK {
			t.Fatalf("request %d within the burst: status %d", i, code)
		}
	}
	code, header := rawPost(t, ts.URL, aliceToken, initializeBody)
	if code != http.StatusTooManyRequests {
		t.Fatalf("request beyond the burst: status %d, want 429", code)
	}
	if secs, err := strconv.Atoi(header.Get("Retry-After")); err != nil || secs < 1 || secs > 2 {
		t.Errorf("Retry-After = %q, want 1 or 2 seconds", header.Get("Retry-After"))
	}
	if code, _ := rawPost(t, ts.URL, bobToken, initializeBody); code != http.StatusOK {
		t.Errorf("bob was limited by alice's requests: status %d", code)
	}
	if got := testutil.ToFloat64(mustRejected(t, ts, "rate_limited")); got != 1 {
		t.Errorf("rate_limited rejections = %v, want 1", got)
	}
}

func mustRejected(t *testing.T, ts *testServer, reason string) prometheusCollector {
	t.Helper()
	mfs, err := ts.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kubeask_mcp_http_rejected_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return constCollector(m.GetCounter().GetValue())
				}
			}
		}
	}
	return constCollector(0)
}

// Browser requests from origins not on the allow list are refused before
// authentication; listed origins pass.
func TestOriginAllowList(t *testing.T) {
	ts := newServer(t, func(c *kmcp.Config) { c.Options.AllowedOrigins = []string{"http://localhost:6274"} })
	if code, _ := rawPost(t, ts.URL, aliceToken, initializeBody, "Origin", "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("foreign origin: status %d, want 403", code)
	}
	if code, _ := rawPost(t, ts.URL, aliceToken, initializeBody, "Origin", "http://localhost:6274"); code != http.StatusOK {
		t.Errorf("allowed origin: status %d, want 200", code)
	}
	// A page on this machine (loopback origin, loopback listener) may call.
	if code, _ := rawPost(t, ts.URL, aliceToken, initializeBody, "Origin", "http://localhost:5173"); code != http.StatusOK {
		t.Errorf("loopback origin on a loopback listener: status %d, want 200", code)
	}
	// DNS rebinding: a page on evil.example resolved to loopback sends Host: evil.example.
	if code, _ := rawPost(t, ts.URL, aliceToken, initializeBody, "Host", "evil.example:80"); code != http.StatusForbidden {
		t.Errorf("foreign Host on loopback: status %d, want 403", code)
	}
	if code, _ := rawPost(t, ts.URL, aliceToken, strings.Repeat(" ", 2<<20)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 MiB body: status %d, want 413", code)
	}
}

// One audit line per tool call, with who, what (masked), what it touched, how it
// ended and how long it took; metrics per tool and outcome.
func TestAuditAndMetrics(t *testing.T) {
	ts := newServer(t, nil)
	cs := connect(t, ts.URL, aliceToken, nil)
	callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"})
	callTool(t, cs, "resources_get", map[string]any{"resource": "pods", "namespace": "team-b", "name": "payments-1"})
	callTool(t, cs, "resources_apply", map[string]any{"manifest": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  namespace: team-a\nstringData:\n  password: s3cr3t-in-args\n"})
	recs := ts.Audit.records(t)
	if len(recs) != 3 {
		t.Fatalf("got %d audit lines, want 3: %v", len(recs), recs)
	}
	list, get, apply := recs[0], recs[1], recs[2]
	if list["user"] != "alice" || list["uid"] != "uid-alice" || list["auth"] != "tokenreview" || list["tool"] != "resources_list" || list["outcome"] != "ok" {
		t.Errorf("list line: %v", list)
	}
	if groups, _ := list["groups"].([]any); len(groups) == 0 || groups[0] != "dev" {
		t.Errorf("list line groups: %v", list["groups"])
	}
	if client, _ := list["client"].(string); !strings.HasPrefix(client, "kubeask-test") {
		t.Errorf("list line client: %v", list["client"])
	}
	k8s, _ := list["kubernetes"].([]any)
	if len(k8s) != 1 || k8s[0].(map[string]any)["verb"] != "list" || k8s[0].(map[string]any)["resource"] != "pods" || k8s[0].(map[string]any)["namespace"] != "team-a" {
		t.Errorf("list line kubernetes: %v", list["kubernetes"])
	}
	if args, _ := list["arguments"].(map[string]any); args["namespace"] != "team-a" {
		t.Errorf("list line arguments: %v", list["arguments"])
	}
	if _, ok := list["latencyMs"].(float64); !ok {
		t.Errorf("list line latency: %v", list["latencyMs"])
	}
	if get["outcome"] != "forbidden" || !strings.Contains(get["error"].(string), "forbidden") {
		t.Errorf("forbidden get line: %v", get)
	}
	if apply["outcome"] != "refused" {
		t.Errorf("apply on a read-only endpoint: %v", apply)
	}
	if args, _ := apply["arguments"].(map[string]any); strings.Contains(args["manifest"].(string), "s3cr3t-in-args") {
		t.Errorf("the audit line holds the secret value: %v", args)
	}
	for tool, outcome := range map[string]string{"resources_list": "ok", "resources_get": "forbidden", "resources_apply": "refused"} {
		if got := testutil.ToFloat64(callsCounter(t, ts, tool, outcome)); got != 1 {
			t.Errorf("kubeask_mcp_tool_calls_total{tool=%s,outcome=%s} = %v, want 1", tool, outcome, got)
		}
	}
}

func callsCounter(t *testing.T, ts *testServer, tool, outcome string) prometheusCollector {
	t.Helper()
	mfs, err := ts.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kubeask_mcp_tool_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["tool"] == tool && labels["outcome"] == outcome {
				return constCollector(m.GetCounter().GetValue())
			}
		}
	}
	return constCollector(0)
}

// The mutation policy: read-only refuses, propose asks the user through elicitation
// (and refuses for clients that cannot be asked), allow runs.
func TestMutationPolicy(t *testing.T) {
	f := env(t)
	ctx := t.Context()
	mkPod := func(name string) {
		t.Helper()
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "x:1"}}}}
		if err := f.admin.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(name string) bool {
		err := f.admin.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, &corev1.Pod{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		// A deleted pod without a kubelet lingers only until its grace period is
		// skipped; a deletion timestamp is what the call achieved.
		if err == nil {
			p := &corev1.Pod{}
			_ = f.admin.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, p)
			return p.DeletionTimestamp == nil
		}
		return false
	}
	del := func(name string) map[string]any {
		return map[string]any{"resource": "pods", "namespace": "team-a", "name": name}
	}

	readOnly := newServer(t, nil)
	mkPod("victim-ro")
	text, isErr := callTool(t, connect(t, readOnly.URL, aliceToken, nil), "resources_delete", del("victim-ro"))
	if !isErr || !strings.Contains(text, "read-only") || !exists("victim-ro") {
		t.Errorf("read-only endpoint: error=%v exists=%v:\n%s", isErr, exists("victim-ro"), text)
	}

	propose := newServer(t, func(c *kmcp.Config) { c.Options.Mutations = kmcp.MutationsPropose })
	mkPod("victim-decline")
	mkPod("victim-accept")
	mkPod("victim-noelicit")
	var asked []string
	answer := "decline"
	elicit := &mcp.ClientOptions{ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		asked = append(asked, req.Params.Message)
		if answer == "accept" {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, nil
		}
		return &mcp.ElicitResult{Action: answer}, nil
	}}
	cs := connect(t, propose.URL, aliceToken, elicit)
	text, isErr = callTool(t, cs, "resources_delete", del("victim-decline"))
	if !isErr || !strings.Contains(text, "did not confirm") || !exists("victim-decline") || len(asked) != 1 {
		t.Errorf("declined: error=%v exists=%v asked=%d:\n%s", isErr, exists("victim-decline"), len(asked), text)
	}
	if len(asked) > 0 && (!strings.Contains(asked[0], "victim-decline") || !strings.Contains(asked[0], "alice")) {
		t.Errorf("the confirmation should show the call and the user: %q", asked[0])
	}
	answer = "accept"
	text, isErr = callTool(t, cs, "resources_delete", del("victim-accept"))
	if isErr || exists("victim-accept") {
		t.Errorf("accepted: error=%v exists=%v:\n%s", isErr, exists("victim-accept"), text)
	}
	text, isErr = callTool(t, connect(t, propose.URL, aliceToken, nil), "resources_delete", del("victim-noelicit"))
	if !isErr || !strings.Contains(text, "elicitation") || !exists("victim-noelicit") {
		t.Errorf("client without elicitation: error=%v exists=%v:\n%s", isErr, exists("victim-noelicit"), text)
	}
	// Reads never ask.
	n := len(asked)
	if _, isErr := callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"}); isErr || len(asked) != n {
		t.Errorf("a read asked for confirmation or failed")
	}
	// A forged confirmation (no state signed by the server) is refused.
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "resources_delete", Arguments: del("victim-noelicit"),
		InputResponses: mcp.InputResponseMap{"confirm": &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}},
		RequestState:   "forged"})
	if err != nil || !res.IsError || !exists("victim-noelicit") {
		t.Errorf("forged confirmation: err=%v result=%v exists=%v", err, res, exists("victim-noelicit"))
	}

	allow := newServer(t, func(c *kmcp.Config) { c.Options.Mutations = kmcp.MutationsAllow })
	mkPod("victim-allow")
	if text, isErr := callTool(t, connect(t, allow.URL, aliceToken, nil), "resources_delete", del("victim-allow")); isErr || exists("victim-allow") {
		t.Errorf("allow: error=%v:\n%s", isErr, text)
	}
	// Even when allowed, a mutation in someone else's namespace is the API server's call.
	if text, isErr := callTool(t, connect(t, allow.URL, aliceToken, nil), "resources_delete", map[string]any{"resource": "pods", "namespace": "team-b", "name": "payments-1"}); !isErr || !strings.Contains(text, "forbidden") {
		t.Errorf("allow in team-b: error=%v:\n%s", isErr, text)
	}
}

// In passthrough mode the caller's own token is the credential: the same isolation
// holds, and the operator's rights are not involved.
func TestPassthrough(t *testing.T) {
	ts := newServer(t, func(c *kmcp.Config) { c.Options.Auth = auth.ModePassthrough })
	cs := connect(t, ts.URL, bobToken, nil)
	if text, isErr := callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-b"}); isErr || !strings.Contains(text, "payments-1") {
		t.Errorf("bob in team-b: error=%v:\n%s", isErr, text)
	}
	if text, isErr := callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"}); !isErr || !strings.Contains(text, "forbidden") {
		t.Errorf("bob in team-a: error=%v:\n%s", isErr, text)
	}
	if code, _ := rawPost(t, ts.URL, "unknown-token", initializeBody); code != http.StatusUnauthorized {
		t.Errorf("unknown token in passthrough: %d", code)
	}
	recs := ts.Audit.records(t)
	if len(recs) != 2 || recs[0]["user"] != "bob" || recs[0]["auth"] != "passthrough" {
		t.Errorf("audit: %v", recs)
	}
}

// Older clients: the 2025-06-18 handshake over streamable HTTP, and the legacy SSE
// transport, whose sessions only their own caller can post to.
func TestOlderClients(t *testing.T) {
	f := env(t)
	cs := connect(t, f.endpoint, aliceToken, nil, "2025-06-18")
	if v := cs.InitializeResult().ProtocolVersion; v != "2025-06-18" {
		t.Errorf("negotiated %s, want 2025-06-18", v)
	}
	if text, isErr := callTool(t, cs, "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"}); isErr || !strings.Contains(text, "checkout-1") {
		t.Errorf("2025-06-18 client: error=%v:\n%s", isErr, text)
	}

	sseURL := strings.TrimSuffix(f.endpoint, kmcp.PathStreamable) + kmcp.PathSSE
	var sessionURL string
	httpClient := &http.Client{Transport: recordEndpoint{bearer{aliceToken, http.DefaultTransport}, &sessionURL}}
	c := mcp.NewClient(&mcp.Implementation{Name: "sse-test", Version: "v0"}, nil)
	sse, err := c.Connect(ctx(t), &mcp.SSEClientTransport{Endpoint: sseURL, HTTPClient: httpClient}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sse.Close() }()
	if text, isErr := callTool(t, sse, "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"}); isErr || !strings.Contains(text, "checkout-1") {
		t.Errorf("SSE client: error=%v:\n%s", isErr, text)
	}
	if text, isErr := callTool(t, sse, "resources_list", map[string]any{"resource": "pods", "namespace": "team-b"}); !isErr || !strings.Contains(text, "forbidden") {
		t.Errorf("SSE client in team-b: error=%v:\n%s", isErr, text)
	}
	if sessionURL == "" {
		t.Fatal("no SSE session endpoint seen")
	}
	// bob posting into alice's session finds no such session.
	code, _ := rawPost(t, sessionURL, bobToken, `{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"resources_list","arguments":{"resource":"pods","namespace":"team-a"}}}`)
	if code != http.StatusNotFound {
		t.Errorf("bob posting to alice's SSE session: status %d, want 404", code)
	}
	if code, _ := rawPost(t, sessionURL, "", `{}`); code != http.StatusUnauthorized {
		t.Errorf("anonymous post to an SSE session: status %d, want 401", code)
	}
}

// recordEndpoint remembers the URL of the SSE session's POST endpoint.
type recordEndpoint struct {
	base http.RoundTripper
	url  *string
}

func (r recordEndpoint) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.URL.Query().Get("sessionid") != "" {
		*r.url = req.URL.String()
	}
	return r.base.RoundTrip(req)
}

// The platform's profiles are served as prompts.
func TestPrompts(t *testing.T) {
	f := env(t)
	cs := connect(t, f.endpoint, aliceToken, nil)
	res, err := cs.ListPrompts(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range res.Prompts {
		names[p.Name] = true
	}
	if !names["operate"] || !names["troubleshoot"] {
		t.Fatalf("prompts: %v", names)
	}
	got, err := cs.GetPrompt(ctx(t), &mcp.GetPromptParams{Name: "operate", Arguments: map[string]string{"question": "why is checkout slow?"}})
	if err != nil {
		t.Fatal(err)
	}
	text := got.Messages[0].Content.(*mcp.TextContent).Text
	if !strings.Contains(text, "why is checkout slow?") || !strings.Contains(text, "resources_scale") {
		t.Errorf("prompt text: %s", text)
	}
}

// The tools carry MCP hints from the registry's annotations, and output schemas.
func TestToolAnnotations(t *testing.T) {
	f := env(t)
	cs := connect(t, f.endpoint, aliceToken, nil)
	res, err := cs.ListTools(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*mcp.Tool{}
	for _, tool := range res.Tools {
		byName[tool.Name] = tool
	}
	for _, name := range []string{"resources_list", "resources_delete", "ask", "sessions_list", "triggers_list"} {
		if byName[name] == nil {
			t.Fatalf("tool %s is not listed; got %d tools", name, len(res.Tools))
		}
		if byName[name].OutputSchema == nil {
			t.Errorf("%s has no output schema", name)
		}
	}
	if a := byName["resources_list"].Annotations; !a.ReadOnlyHint || *a.DestructiveHint || !a.IdempotentHint {
		t.Errorf("resources_list hints: %+v", a)
	}
	if a := byName["resources_delete"].Annotations; a.ReadOnlyHint || !*a.DestructiveHint {
		t.Errorf("resources_delete hints: %+v", a)
	}
	if a := byName["triggers_list"].Annotations; !a.ReadOnlyHint || *a.DestructiveHint || !a.IdempotentHint {
		t.Errorf("triggers_list hints: %+v", a)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}
