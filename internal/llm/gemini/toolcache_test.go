package gemini

import (
	"encoding/json"
	"sync"
	"testing"

	"google.golang.org/genai"

	"github.com/kubeask/kubeask/internal/llm"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// TestToolDeclarationsAreEncodedOnceAndFollowChanges: the cached declaration of a tool
// is what travels on every call, and a tool whose description or schema changes is
// sent as it is now.
func TestToolDeclarationsAreEncodedOnceAndFollowChanges(t *testing.T) {
	f := newFake(t, reply{Body: textReply}, reply{Body: textReply}, reply{Body: textReply}, reply{Body: textReply})
	c := newClient(t, f, fastRetries)
	changed := listPods
	changed.Parameters = json.RawMessage(`{"type":"object","properties":{"namespace":{"type":"string"},"label":{"type":"string"}},` +
		`"required":["namespace"],"additionalProperties":false}`)
	redescribed := changed
	redescribed.Description = "List pods, optionally by label."
	for _, tool := range []llm.Tool{listPods, listPods, changed, redescribed} {
		req := ask("are my pods ok?")
		req.Tools = []llm.Tool{tool}
		if _, err := c.Chat(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	got := f.Requests()
	if len(got) != 4 {
		t.Fatalf("%d requests, want 4", len(got))
	}
	tools := llmtest.Fields(t, got, "tools")
	if tools[0] != tools[1] {
		t.Errorf("the same tool was sent differently:\n%s\n%s", tools[0], tools[1])
	}
	decl := func(i int) (name, description string, schema map[string]any) {
		w := decode(t, got[i])
		if len(w.Tools) != 1 || len(w.Tools[0].FunctionDeclarations) != 1 {
			t.Fatalf("request %d: tools %s", i, tools[i])
		}
		d := w.Tools[0].FunctionDeclarations[0]
		return d.Name, d.Description, d.ParametersJSONSchema
	}
	name, description, schema := decl(0)
	if name != "list_pods" || description != listPods.Description || schema["type"] != "object" ||
		schema["additionalProperties"] != false || len(schema["required"].([]any)) != 1 {
		t.Errorf("cached declaration went out as %s", tools[0])
	}
	name, description, schema = decl(2)
	props, _ := schema["properties"].(map[string]any)
	if _, ok := props["label"]; !ok || name != "list_pods" || description != listPods.Description {
		t.Errorf("after the schema changed the tool went out as %s", tools[2])
	}
	if name, description, _ = decl(3); name != "list_pods" || description != redescribed.Description {
		t.Errorf("after the description changed the tool went out as %s", tools[3])
	}
}

// TestDeclarationIsSharedAndOwnsItsSchema: through the client's cache, a hit hands out
// the declaration built on the first call, its schema a copy of the tool's JSON; a
// changed description gets a new one; a bad schema is an error.
func TestDeclarationIsSharedAndOwnsItsSchema(t *testing.T) {
	var c llm.ToolCache[*genai.FunctionDeclaration]
	first, err := c.Get(listPods, toDeclaration)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Get(listPods, toDeclaration); again != first {
		t.Error("second get did not return the cached declaration")
	}
	if raw, ok := first.ParametersJsonSchema.(json.RawMessage); !ok || string(raw) != string(listPods.Parameters) ||
		&raw[0] == &listPods.Parameters[0] {
		t.Errorf("schema %T %s, want a copy of the tool's JSON", first.ParametersJsonSchema, first.ParametersJsonSchema)
	}
	redescribed := listPods
	redescribed.Description = "Something else."
	if d, _ := c.Get(redescribed, toDeclaration); d == first || d.Description != redescribed.Description {
		t.Errorf("a changed description got declaration %+v", d)
	}
	bad := listPods
	bad.Name = "bad"
	bad.Parameters = json.RawMessage(`["not", "an", "object"]`)
	if _, err := c.Get(bad, toDeclaration); err == nil {
		t.Error("a schema that is not an object was accepted")
	}
}

// TestToolDeclarationsConcurrentCalls shares the cached declarations between
// concurrent requests; run with -race.
func TestToolDeclarationsConcurrentCalls(t *testing.T) {
	const n = 16
	script := make([]reply, n)
	for i := range script {
		script[i] = reply{Body: textReply}
	}
	f := newFake(t, script...)
	c := newClient(t, f, fastRetries)
	getEvents := llm.Tool{Name: "get_events", Description: "Events in a namespace.",
		Parameters: json.RawMessage(`{"type":"object","properties":{"namespace":{"type":"string"},"limit":{"type":"integer"}}}`)}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req := ask("are my pods ok?")
			req.Tools = []llm.Tool{listPods, getEvents}
			if _, err := c.Chat(t.Context(), req); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	tools := llmtest.Fields(t, f.Requests(), "tools")
	for i, tl := range tools {
		if tl != tools[0] {
			t.Errorf("request %d sent the tools as\n%s\nrequest 0 as\n%s", i, tl, tools[0])
		}
	}
}
