package openai

import (
	"strings"
	"testing"

	"github.com/kubeask/kubeask/internal/llm"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// TestResultForNoCallIsRefused: a tool message whose tool_call_id answers no call of
// the assistant message before it is refused by the fake as api.openai.com refuses it,
// and the client reports OpenAI's words as a bad request, without retrying.
func TestResultForNoCallIsRefused(t *testing.T) {
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
	if llm.KindOf(err) != llm.KindBadRequest || !strings.Contains(err.Error(), "'tool_call_id' of 's1' not found in 'tool_calls' of previous message") {
		t.Fatalf("err = %v, want OpenAI's 400 for a result that answers no call", err)
	}
	if n := len(f.Requests()); n != 2 {
		t.Errorf("%d requests, want 2: a refused conversation is not retried", n)
	}
	if n := len(f.Rejections()); n != 1 {
		t.Errorf("%d rejections, want 1", n)
	}
}

// TestForbidToolCallsKeepsTheTools: a request that must be answered without tools keeps
// its tools and says tool_choice "none".
func TestForbidToolCallsKeepsTheTools(t *testing.T) {
	f := newFake(t, reply{Body: textReply}, reply{Body: textReply})
	c := newClient(t, f, fastRetries)
	req := ask("answer now")
	req.ForbidToolCalls = true
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	// Without tools there is nothing to forbid, and OpenAI refuses tool_choice alone.
	req.Tools = nil
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	got := f.Requests()
	if choice := llmtest.Fields(t, got, "tool_choice"); choice[0] != `"none"` || choice[1] != "" {
		t.Errorf("tool_choice %q, want \"none\" with tools and nothing without", choice)
	}
	if tools := llmtest.Fields(t, got, "tools"); !strings.Contains(tools[0], "list_pods") {
		t.Errorf("tools %s", tools[0])
	}
}
