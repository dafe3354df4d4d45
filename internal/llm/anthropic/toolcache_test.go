package anthropic

import (
	"encoding/json"
	"sync"
	"testing"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/kubeask/kubeask/internal/llm"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// describePods has several schema keywords besides properties and required: the SDK
// writes those in map order, so only an encoding kept from the first call goes out
// the same every time.
var describePods = llm.Tool{
	Name:        "describe_pods",
	Description: "Describe pods in a namespace.",
	Parameters: json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"describe_pods",` +
		`"type":"object","properties":{"namespace":{"type":"string"}},"required":["namespace"],` +
		`"additionalProperties":false,"description":"Which pods to describe."}`),
}

// TestToolDeclarationsAreEncodedOnceAndFollowChanges: the cached encoding of a tool is
// what travels on every call, and a tool whose description or schema changes is sent
// as it is now.
func TestToolDeclarationsAreEncodedOnceAndFollowChanges(t *testing.T) {
	f := newFake(t, reply{Body: textReply}, reply{Body: textReply}, reply{Body: textReply}, reply{Body: textReply})
	c := newClient(t, f, fastRetries)
	changed := describePods
	changed.Parameters = json.RawMessage(`{"type":"object","properties":{"namespace":{"type":"string"},"label":{"type":"string"}},` +
		`"required":["namespace"],"additionalProperties":false}`)
	redescribed := changed
	redescribed.Description = "Describe pods, optionally by label."
	for _, tool := range []llm.Tool{describePods, describePods, changed, redescribed} {
		req := ask("are my pods ok?")
		req.Tools = []llm.Tool{tool, listPods}
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
		t.Errorf("the same tools were sent differently:\n%s\n%s", tools[0], tools[1])
	}

	w0 := decode(t, got[0])
	if len(w0.Tools) != 2 || w0.Tools[0].Name != "describe_pods" || w0.Tools[0].Description != describePods.Description ||
		w0.Tools[1].Name != "list_pods" || w0.Tools[1].Description != listPods.Description {
		t.Fatalf("cached tools %s", tools[0])
	}
	s := w0.Tools[0].InputSchema
	if s["type"] != "object" || s["additionalProperties"] != false || s["title"] != "describe_pods" ||
		s["$schema"] == nil || s["description"] != "Which pods to describe." || len(s["required"].([]any)) != 1 {
		t.Errorf("cached input_schema lost keywords: %s", tools[0])
	}

	w2 := decode(t, got[2])
	props, _ := w2.Tools[0].InputSchema["properties"].(map[string]any)
	if _, ok := props["label"]; !ok || w2.Tools[0].Name != "describe_pods" || w2.Tools[0].Description != describePods.Description {
		t.Errorf("after the schema changed the tool went out as %s", tools[2])
	}
	if _, ok := w2.Tools[0].InputSchema["title"]; ok {
		t.Errorf("keywords of the old schema still sent: %s", tools[2])
	}
	w3 := decode(t, got[3])
	if w3.Tools[0].Description != redescribed.Description {
		t.Errorf("after the description changed the tool went out as %s", tools[3])
	}
	if len(w3.Tools) != 2 || w3.Tools[1].Name != "list_pods" || w3.Tools[1].Description != listPods.Description {
		t.Errorf("unchanged tool went out as %s", tools[3])
	}
}

// TestEncodedToolIsSharedRawJSON: through the client's cache, a hit hands out the
// encoding made on the first call, as raw JSON, and a bad schema is an error.
func TestEncodedToolIsSharedRawJSON(t *testing.T) {
	var c llm.ToolCache[sdk.ToolUnionParam]
	raw := func(p any) string {
		t.Helper()
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	first, err := c.Get(listPods, encodeTool)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.Get(listPods, encodeTool)
	o1, ok1 := first.Overrides()
	o2, ok2 := again.Overrides()
	r1, _ := o1.(json.RawMessage)
	r2, _ := o2.(json.RawMessage)
	if !ok1 || !ok2 || len(r1) == 0 || &r1[0] != &r2[0] {
		t.Errorf("second get did not return the cached encoding")
	}
	if first.OfTool != nil || raw(first) != string(r1) {
		t.Errorf("cached tool is not the raw encoding: %s", raw(first))
	}
	bad := listPods
	bad.Parameters = json.RawMessage(`["not", "an", "object"]`)
	if _, err := c.Get(bad, encodeTool); err == nil {
		t.Error("a schema that is not an object was accepted")
	}
	if again, _ := c.Get(listPods, encodeTool); raw(again) != raw(first) {
		t.Errorf("a failed conversion replaced the cached tool")
	}
}

// TestToolDeclarationsConcurrentCalls shares the cached tools between concurrent
// requests; run with -race.
func TestToolDeclarationsConcurrentCalls(t *testing.T) {
	const n = 16
	script := make([]reply, n)
	for i := range script {
		script[i] = reply{Body: textReply}
	}
	f := newFake(t, script...)
	c := newClient(t, f, fastRetries)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req := ask("are my pods ok?")
			req.Tools = []llm.Tool{describePods, listPods}
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
