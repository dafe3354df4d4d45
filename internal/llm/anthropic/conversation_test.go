package anthropic

import (
	"strings"
	"testing"

	"github.com/kubeask/kubeask/internal/llm"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// TestResultForNoToolUseIsRefused: a tool_result whose tool_use_id answers no tool_use
// of the message before it is refused by the fake as api.anthropic.com refuses it, and
// the client reports Anthropic's words as a bad request, without retrying.
func TestResultForNoToolUseIsRefused(t *testing.T) {
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
	if llm.KindOf(err) != llm.KindBadRequest || !strings.Contains(err.Error(), "unexpected `tool_use_id` found in `tool_result` blocks: s1") {
		t.Fatalf("err = %v, want Anthropic's 400 for a result without its tool_use", err)
	}
	if n := len(f.Requests()); n != 2 {
		t.Errorf("%d requests, want 2: a refused conversation is not retried", n)
	}
}

// TestForbidToolCallsKeepsTheTools: Anthropic refuses a conversation holding tool_use
// blocks when it defines no tools, so a request that must be answered without tools
// keeps them and says tool_choice none; the strict fake accepts it.
func TestForbidToolCallsKeepsTheTools(t *testing.T) {
	f := newFake(t, reply{Body: oneToolCallReply}, reply{Body: textReply})
	c := newClient(t, f, fastRetries)
	req := ask("list pods")
	first, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	call := first.Message.ToolCalls[0]
	req.Messages = append(req.Messages, first.Message,
		llm.Message{Role: llm.RoleTool, ToolResults: []llm.ToolResult{{CallID: call.ID, Name: call.Name, Content: "not run: limit", IsError: true}}},
		llm.Message{Role: llm.RoleUser, Text: "Answer now."})
	req.ForbidToolCalls = true
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	got := f.Requests()
	if choice := llmtest.Fields(t, got, "tool_choice"); choice[0] != "" || choice[1] != `{"type":"none"}` {
		t.Errorf("tool_choice %q, want none on the second request only", choice)
	}
	if tools := llmtest.Fields(t, got, "tools"); !strings.Contains(tools[1], "list_pods") {
		t.Errorf("tools of the second request %s", tools[1])
	}
}
