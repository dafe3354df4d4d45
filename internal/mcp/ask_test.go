package mcp_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// ask creates an AgentQuery as the caller (admission stamps them as the requester),
// reports the agent's steps as progress and returns the answer, end to end through
// the manager with a fake model.
func TestAskEndToEnd(t *testing.T) {
	f := env(t)
	const prompt = "MCP: what runs in team-a?"
	scripts.Store(prompt, func(req llmtest.Request) llmtest.Reply {
		results := req.ToolResults()
		if len(results) == 0 {
			return llmtest.Reply{Calls: []llmtest.Call{{Name: "resources_list", Args: `{"resource":"pods","namespace":"team-a"}`}}}
		}
		return llmtest.Reply{Text: "The pods are: " + results[0].Text()}
	})
	var mu sync.Mutex
	var progress []string
	cs := connect(t, f.endpoint, aliceToken, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			progress = append(progress, req.Params.Message)
		},
	})
	params := &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{"prompt": prompt, "namespace": "team-a"}}
	params.SetProgressToken("ask-1")
	res, err := cs.CallTool(ctx(t), params)
	if err != nil {
		t.Fatal(err)
	}
	text := resultText(res)
	if res.IsError || !strings.Contains(text, "checkout-1") {
		t.Fatalf("ask: error=%v:\n%s", res.IsError, text)
	}
	out, _ := res.StructuredContent.(map[string]any)
	name, _ := out["name"].(string)
	if out["phase"] != string(agentsv1alpha1.QuerySucceeded) || name == "" {
		t.Fatalf("structured result: %v", res.StructuredContent)
	}
	q := &agentsv1alpha1.AgentQuery{}
	if err := f.admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: name}, q); err != nil {
		t.Fatal(err)
	}
	if q.Spec.Requester == nil || q.Spec.Requester.Username != "alice" {
		t.Errorf("requester = %+v, want alice (stamped by admission)", q.Spec.Requester)
	}
	// The client handles notifications on its own goroutine: the last ones may arrive
	// after the call returned.
	var joined string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		joined = strings.Join(progress, "\n")
		mu.Unlock()
		if strings.Contains(joined, "created AgentQuery team-a/"+name) && strings.Contains(joined, "step s1: resources_list") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(joined, "created AgentQuery team-a/"+name) || !strings.Contains(joined, "step s1: resources_list") {
		t.Errorf("progress notifications:\n%s", joined)
	}

	data, err := os.ReadFile(f.auditFile)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rec := range parseAudit(t, string(data)) {
		if q, _ := rec["query"].(map[string]any); rec["tool"] == "ask" && q["name"] == name {
			found = rec["user"] == "alice" && rec["outcome"] == "ok"
		}
	}
	if !found {
		t.Errorf("no audit line for alice's ask naming query %s in:\n%s", name, data)
	}

	// bob cannot ask in alice's namespace: a readable tool error.
	bobSession := connect(t, f.endpoint, bobToken, nil)
	text, isErr := callTool(t, bobSession, "ask", map[string]any{"prompt": "anything", "namespace": "team-a"})
	if !isErr || !strings.Contains(text, "forbidden") {
		t.Errorf("bob asking in team-a: error=%v:\n%s", isErr, text)
	}
	// The endpoint's read-only policy bounds the mode.
	text, isErr = callTool(t, cs, "ask", map[string]any{"prompt": "scale it", "namespace": "team-a", "mode": "Auto"})
	if !isErr || !strings.Contains(text, "not allowed") {
		t.Errorf("ask in Auto mode on a read-only endpoint: error=%v:\n%s", isErr, text)
	}
	// sessions_list as alice sees only team-a.
	if text, isErr := callTool(t, cs, "sessions_list", map[string]any{"namespace": "team-b"}); !isErr || !strings.Contains(text, "forbidden") {
		t.Errorf("alice listing sessions in team-b: error=%v:\n%s", isErr, text)
	}
	if _, isErr := callTool(t, cs, "sessions_list", nil); isErr {
		t.Errorf("alice listing sessions in her default namespace failed")
	}
}
