package mcp_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	kmcp "github.com/kubeask/kubeask/internal/mcp"
)

// protocolSessions creates the sessions the protocol tests read, once: incident-1 and
// incident-2 in team-a (alice's), payments-1 in team-b (bob's).
func protocolSessions(t *testing.T) {
	t.Helper()
	f := env(t)
	for _, s := range []struct{ ns, name string }{{"team-a", "incident-1"}, {"team-a", "incident-2"}, {"team-b", "payments-1"}} {
		sess := &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: s.name}}
		if err := f.admin.Create(t.Context(), sess); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}
}

func complete(t *testing.T, cs *mcp.ClientSession, ref *mcp.CompleteReference, arg, value string, context map[string]string) []string {
	t.Helper()
	params := &mcp.CompleteParams{Ref: ref, Argument: mcp.CompleteParamsArgument{Name: arg, Value: value}}
	if context != nil {
		params.Context = &mcp.CompleteContext{Arguments: context}
	}
	res, err := cs.Complete(ctx(t), params)
	if err != nil {
		t.Fatalf("completing %s=%q of %+v: %v", arg, value, ref, err)
	}
	return res.Completion.Values
}

// completion/complete offers what the caller may use, decided by the API server as
// the caller: alice gets team-a and her sessions there, bob neither.
func TestCompletionAsTheCaller(t *testing.T) {
	f := env(t)
	protocolSessions(t)
	alice := connect(t, f.endpoint, aliceToken, nil)
	bob := connect(t, f.endpoint, bobToken, nil)
	if caps := alice.InitializeResult().Capabilities; caps.Completions == nil || caps.Resources == nil {
		t.Fatalf("capabilities lack completions or resources: %+v", caps)
	}
	prompt := &mcp.CompleteReference{Type: "ref/prompt", Name: "operate"}
	tmpl := &mcp.CompleteReference{Type: "ref/resource", URI: kmcp.SessionURITemplate}

	if got := complete(t, alice, prompt, "namespace", "team", nil); !slices.Equal(got, []string{"team-a"}) {
		t.Errorf("alice completing namespace team: %v, want [team-a]", got)
	}
	if got := complete(t, bob, prompt, "namespace", "team", nil); !slices.Equal(got, []string{"team-b"}) {
		t.Errorf("bob completing namespace team: %v, want [team-b]", got)
	}
	if got := complete(t, alice, tmpl, "namespace", "", nil); !slices.Equal(got, []string{"team-a"}) {
		t.Errorf("alice completing the template's namespace: %v, want [team-a]", got)
	}
	if got := complete(t, alice, prompt, "session", "incident", map[string]string{"namespace": "team-a"}); !slices.Equal(got, []string{"incident-1", "incident-2"}) {
		t.Errorf("alice completing sessions in team-a: %v", got)
	}
	if got := complete(t, alice, tmpl, "name", "incident-2", map[string]string{"namespace": "team-a"}); !slices.Equal(got, []string{"incident-2"}) {
		t.Errorf("alice completing the template's name: %v", got)
	}
	// The default namespace (team-a) applies without context.
	if got := complete(t, alice, prompt, "session", "", nil); !slices.Contains(got, "incident-1") {
		t.Errorf("alice completing sessions in the default namespace: %v", got)
	}
	for _, arg := range []string{"session"} {
		if got := complete(t, bob, prompt, arg, "", map[string]string{"namespace": "team-a"}); len(got) != 0 {
			t.Errorf("bob completing alice's sessions: %v, want none", got)
		}
	}
	if got := complete(t, bob, tmpl, "name", "", map[string]string{"namespace": "team-a"}); len(got) != 0 {
		t.Errorf("bob completing the template's name in team-a: %v, want none", got)
	}
	if got := complete(t, bob, tmpl, "namespace", "team-a", nil); len(got) != 0 {
		t.Errorf("bob completing namespace team-a: %v, want none", got)
	}
	// nobody (no RBAC at all) completes nothing.
	nobody := connect(t, f.endpoint, nobodyToken, nil)
	if got := complete(t, nobody, prompt, "namespace", "", nil); len(got) != 0 {
		t.Errorf("nobody completing namespaces: %v", got)
	}
	// The question completes to nothing; an unknown prompt is invalid params.
	if got := complete(t, alice, prompt, "question", "why", nil); len(got) != 0 {
		t.Errorf("question completion: %v", got)
	}
	_, err := alice.Complete(ctx(t), &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: "nope"}, Argument: mcp.CompleteParamsArgument{Name: "namespace"}})
	if code := rpcCode(err); code != jsonrpc.CodeInvalidParams {
		t.Errorf("completing an unknown prompt: %v (code %d)", err, code)
	}
	// prompts/get names the session's resource.
	got, err := alice.GetPrompt(ctx(t), &mcp.GetPromptParams{Name: "operate", Arguments: map[string]string{"namespace": "team-a", "session": "incident-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if text := got.Messages[0].Content.(*mcp.TextContent).Text; !strings.Contains(text, "kubeask://sessions/team-a/incident-1") || !strings.Contains(text, "namespace team-a") {
		t.Errorf("prompt text:\n%s", text)
	}
}

func rpcCode(err error) int64 {
	var werr *jsonrpc.Error
	if errors.As(err, &werr) {
		return werr.Code
	}
	return 0
}

// Session transcripts are resources: listed and read as the caller; another's is a
// JSON-RPC error (forbidden), a missing one -32602 (SEP-2164), and each read is audited.
func TestSessionResources(t *testing.T) {
	f := env(t)
	protocolSessions(t)
	const prompt = "MCP resources: how is checkout?"
	scripts.Store(prompt, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "checkout is fine"} })
	alice := connect(t, f.endpoint, aliceToken, nil)
	bob := connect(t, f.endpoint, bobToken, nil)
	if text, isErr := callTool(t, alice, "ask", map[string]any{"prompt": prompt, "namespace": "team-a", "session": "incident-1"}); isErr {
		t.Fatalf("ask: %s", text)
	}

	uris := func(cs *mcp.ClientSession) []string {
		res, err := cs.ListResources(ctx(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range res.Resources {
			out = append(out, r.URI)
		}
		return out
	}
	a, b := uris(alice), uris(bob)
	if !slices.Contains(a, "kubeask://sessions/team-a/incident-1") || !slices.Contains(a, "kubeask://sessions/team-a/incident-2") || slices.Contains(a, "kubeask://sessions/team-b/payments-1") {
		t.Errorf("alice's resources: %v", a)
	}
	if !slices.Contains(b, "kubeask://sessions/team-b/payments-1") || slices.ContainsFunc(b, func(u string) bool { return strings.Contains(u, "team-a") }) {
		t.Errorf("bob's resources: %v", b)
	}
	tmpls, err := alice.ListResourceTemplates(ctx(t), nil)
	if err != nil || len(tmpls.ResourceTemplates) != 1 || tmpls.ResourceTemplates[0].URITemplate != kmcp.SessionURITemplate {
		t.Errorf("resource templates: %+v, %v", tmpls, err)
	}

	res, err := alice.ReadResource(ctx(t), &mcp.ReadResourceParams{URI: "kubeask://sessions/team-a/incident-1"})
	if err != nil {
		t.Fatal(err)
	}
	text := res.Contents[0].Text
	for _, want := range []string{"# Session team-a/incident-1", "alice asked", prompt, "checkout is fine"} {
		if !strings.Contains(text, want) {
			t.Errorf("transcript lacks %q:\n%s", want, text)
		}
	}
	if res.Contents[0].MIMEType != "text/markdown" {
		t.Errorf("MIME type %q", res.Contents[0].MIMEType)
	}

	// bob may not read alice's session: a JSON-RPC error, not a transcript.
	_, err = bob.ReadResource(ctx(t), &mcp.ReadResourceParams{URI: "kubeask://sessions/team-a/incident-1"})
	if code := rpcCode(err); code != kmcp.CodeForbidden || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("bob reading alice's session: %v (code %d)", err, code)
	}
	_, err = alice.ReadResource(ctx(t), &mcp.ReadResourceParams{URI: "kubeask://sessions/team-a/no-such-session"})
	if code := rpcCode(err); code != jsonrpc.CodeInvalidParams {
		t.Errorf("reading a missing session: %v (code %d)", err, code)
	}
	_, err = alice.ReadResource(ctx(t), &mcp.ReadResourceParams{URI: "kubeask://other/x"})
	if code := rpcCode(err); code != jsonrpc.CodeInvalidParams {
		t.Errorf("reading an unknown URI: %v (code %d)", err, code)
	}

	var aliceRead, bobRead bool
	data, err := os.ReadFile(f.auditFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range parseAudit(t, string(data)) {
		args, _ := rec["arguments"].(map[string]any)
		if rec["tool"] != "resources/read" || args["uri"] != "kubeask://sessions/team-a/incident-1" {
			continue
		}
		aliceRead = aliceRead || rec["user"] == "alice" && rec["outcome"] == "ok"
		bobRead = bobRead || rec["user"] == "bob" && rec["outcome"] == "forbidden"
	}
	if !aliceRead || !bobRead {
		t.Errorf("audit: alice's read %v, bob's refused read %v", aliceRead, bobRead)
	}
}

// A request for a method no MCP server has gets a JSON-RPC error body with -32601.
func TestUnknownMethodIsMethodNotFound(t *testing.T) {
	f := env(t)
	post := func(version, body string, path ...string) (int, map[string]any) {
		url := f.endpoint
		if len(path) > 0 {
			url = strings.TrimSuffix(f.endpoint, kmcp.PathStreamable) + path[0]
		}
		req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+aliceToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if version != "" {
			req.Header.Set("MCP-Protocol-Version", version)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(resp.Body)
		// An SSE response carries the message on its data line.
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "data: "); ok {
				data = []byte(rest)
			}
		}
		var m map[string]any
		if err := json.Unmarshal(bytes.TrimSpace(data), &m); err != nil {
			t.Fatalf("body is not JSON: %q", data)
		}
		return resp.StatusCode, m
	}
	for _, tc := range []struct {
		version string
		status  int
	}{{"", 200}, {"2025-06-18", 200}, {"2025-11-25", 200}, {"2026-07-28", 404}} {
		status, m := post(tc.version, `{"jsonrpc":"2.0","id":7,"method":"no/such-method","params":{}}`)
		e, _ := m["error"].(map[string]any)
		if status != tc.status || m["id"] != float64(7) || e["code"] != float64(-32601) {
			t.Errorf("version %q: %d %v", tc.version, status, m)
		}
	}
	// The legacy transport: 400 as before, but with the JSON-RPC body.
	if status, m := post("", `{"jsonrpc":"2.0","id":9,"method":"no/such-method"}`, kmcp.PathSSE); status != 400 || m["error"].(map[string]any)["code"] != float64(-32601) {
		t.Errorf("/sse: %d %v", status, m)
	}
	// A known method is not affected.
	if status, m := post("2025-06-18", `{"jsonrpc":"2.0","id":8,"method":"ping"}`); status != 200 || m["error"] != nil {
		t.Errorf("ping: %d %v", status, m)
	}
}
