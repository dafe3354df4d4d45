package gemini

import (
	"strings"
	"testing"

	"github.com/kubeask/kubeask/internal/llm"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// TestResponseForNoCallIsRefused: a function response whose id is not the id of a call
// of the turn before it (here the call had none: Gemini matched it by name) is refused
// by the fake, and the client reports it as a bad request, without retrying.
func TestResponseForNoCallIsRefused(t *testing.T) {
	f := newFake(t, reply{Body: oneToolCallReply})
	c := newClient(t, f, fastRetries)
	req := ask("list pods")
	first, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	req.Messages = append(req.Messages, first.Message, llm.Message{Role: llm.RoleTool, ToolResults: []llm.ToolResult{
		{CallID: "s1", Name: "list_pods", Content: "[]"},
	}})
	_, err = c.Chat(t.Context(), req)
	if llm.KindOf(err) != llm.KindBadRequest || !strings.Contains(err.Error(), "the id of each function response part matches") {
		t.Fatalf("err = %v, want a 400 for a response to no call", err)
	}
	if n := len(f.Requests()); n != 2 {
		t.Errorf("%d requests, want 2: a refused conversation is not retried", n)
	}
}

// TestForbidToolCallsKeepsTheTools: a request that must be answered without tools keeps
// its declarations and sets function calling to NONE.
func TestForbidToolCallsKeepsTheTools(t *testing.T) {
	f := newFake(t, reply{Body: textReply})
	req := ask("answer now")
	req.ForbidToolCalls = true
	if _, err := newClient(t, f, fastRetries).Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	got := f.Requests()
	if cfg := llmtest.Fields(t, got, "toolConfig"); cfg[0] != `{"functionCallingConfig":{"mode":"NONE"}}` {
		t.Errorf("toolConfig %s", cfg[0])
	}
	if tools := llmtest.Fields(t, got, "tools"); !strings.Contains(tools[0], "list_pods") {
		t.Errorf("tools %s", tools[0])
	}
}
