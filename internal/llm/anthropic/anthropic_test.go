package anthropic

import (
	"net/http"

	"github.com/kubeask/kubeask/internal/llm/llmtest"

	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubeask/kubeask/internal/llm"
)

// The replies below are in the shape api.anthropic.com sends (see the SDK's Message and
// ContentBlockUnion types and internal/apierror).

const textReply = `{
  "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
  "content": [{"type": "text", "text": "All 3 pods are Running."}],
  "stop_reason": "end_turn", "stop_sequence": null,
  "usage": {"input_tokens": 52, "output_tokens": 9, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
}`

const oneToolCallReply = `{
  "id": "msg_02", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
  "content": [
    {"type": "text", "text": "Let me look at the pods."},
    {"type": "tool_use", "id": "toolu_01", "name": "list_pods", "input": {"namespace": "default"}}],
  "stop_reason": "tool_use", "stop_sequence": null,
  "usage": {"input_tokens": 80, "output_tokens": 30}
}`

const twoToolCallsReply = `{
  "id": "msg_03", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
  "content": [
    {"type": "tool_use", "id": "toolu_01", "name": "list_pods", "input": {"namespace": "default"}},
    {"type": "tool_use", "id": "toolu_02", "name": "get_events", "input": {"namespace": "default", "limit": 5}}],
  "stop_reason": "tool_use", "stop_sequence": null,
  "usage": {"input_tokens": 80, "output_tokens": 40}
}`

// malformedArgsReply has input as a string holding broken JSON, which models behind
// some gateways produce instead of an object.
const malformedArgsReply = `{
  "id": "msg_04", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
  "content": [{"type": "tool_use", "id": "toolu_09", "name": "list_pods", "input": "{\"namespace\": \"default\""}],
  "stop_reason": "tool_use", "stop_sequence": null,
  "usage": {"input_tokens": 10, "output_tokens": 10}
}`

const (
	rateLimitedBody = `{"type": "error", "error": {"type": "rate_limit_error", "message": "This request would exceed the rate limit for your organization of 50 requests per minute."}, "request_id": "req_011"}`
	serverErrorBody = `{"type": "error", "error": {"type": "api_error", "message": "Internal server error"}, "request_id": "req_012"}`
	overloadedBody  = `{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_013"}`
	badKeyBody      = `{"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}, "request_id": "req_014"}`
	tooLongBody     = `{"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 215031 tokens > 200000 maximum"}, "request_id": "req_015"}`
	forbiddenBody   = `{"type": "error", "error": {"type": "permission_error", "message": "Your API key does not have permission to use the specified resource."}, "request_id": "req_016"}`
	billingBody     = `{"type": "error", "error": {"type": "billing_error", "message": "Your credit balance is too low to access the Anthropic API."}, "request_id": "req_017"}`
)

var listPods = llm.Tool{
	Name:        "list_pods",
	Description: "List pods in a namespace.",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"namespace":{"type":"string"}},"required":["namespace"],"additionalProperties":false}`),
}

var fastRetries = llm.Policy{Timeout: 20 * time.Second, MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}

func newClient(t *testing.T, f *llmtest.Scripted, p llm.Policy) llm.Client {
	t.Helper()
	c, err := New(Config{Model: "claude-sonnet-4-5", BaseURL: f.URL, APIKey: "sk-ant-test"})
	if err != nil {
		t.Fatal(err)
	}
	return llm.WithPolicy(c, p)
}

func ask(text string) llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Text: text}}, Tools: []llm.Tool{listPods}}
}

// wireRequest is the Messages API request as it travels.
type wireRequest struct {
	Model     string `json:"model"`
	MaxTokens int    `json:"max_tokens"`
	System    []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"system"`
	Messages []struct {
		Role    string      `json:"role"`
		Content []wireBlock `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		InputSchema map[string]any `json:"input_schema"`
	} `json:"tools"`
}

type wireBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	IsError   bool            `json:"is_error"`
	Content   []wireBlock     `json:"content"`
}

func decode(t *testing.T, r received) wireRequest {
	t.Helper()
	var w wireRequest
	if err := json.Unmarshal(r.Body, &w); err != nil {
		t.Fatalf("request body is not JSON: %v\n%s", err, r.Body)
	}
	return w
}

func TestChatText(t *testing.T) {
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-from-environment")
	f := newFake(t, reply{Body: textReply})
	req := ask("are my pods ok?")
	req.System = "You are a careful Kubernetes assistant."
	resp, err := newClient(t, f, fastRetries).Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Message.Text != "All 3 pods are Running." || resp.StopReason != llm.StopEndTurn || len(resp.Message.ToolCalls) != 0 {
		t.Errorf("unexpected reply %+v", resp)
	}
	if resp.Usage != (llm.Usage{InputTokens: 52, OutputTokens: 9}) || resp.Model != "claude-sonnet-4-5-20250929" {
		t.Errorf("usage %+v model %q", resp.Usage, resp.Model)
	}

	got := f.Requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	if got[0].Method != http.MethodPost || got[0].Path != "/v1/messages" {
		t.Errorf("request %s %s", got[0].Method, got[0].Path)
	}
	// The v2 SDK sends the API key as a bearer token.
	if auth := got[0].Header.Get("Authorization"); auth != "Bearer sk-ant-test" {
		t.Errorf("Authorization %q, want the configured key and never the environment's", auth)
	}
	if v := got[0].Header.Get("Anthropic-Version"); v == "" {
		t.Error("no anthropic-version header")
	}
	w := decode(t, got[0])
	if w.Model != "claude-sonnet-4-5" || w.MaxTokens != DefaultMaxTokens {
		t.Errorf("model %q max_tokens %d", w.Model, w.MaxTokens)
	}
	if len(w.System) != 1 || w.System[0].Text != req.System {
		t.Errorf("system %+v", w.System)
	}
	if len(w.Messages) != 1 || w.Messages[0].Role != "user" || len(w.Messages[0].Content) != 1 ||
		w.Messages[0].Content[0].Type != "text" || w.Messages[0].Content[0].Text != "are my pods ok?" {
		t.Errorf("messages %+v", w.Messages)
	}
	if len(w.Tools) != 1 || w.Tools[0].Name != "list_pods" || w.Tools[0].Description != "List pods in a namespace." {
		t.Fatalf("tools %+v", w.Tools)
	}
	schema := w.Tools[0].InputSchema
	if schema["type"] != "object" || schema["additionalProperties"] != false || schema["properties"] == nil ||
		len(schema["required"].([]any)) != 1 {
		t.Errorf("input_schema %v lost keywords", schema)
	}
}

func TestChatSingleToolCall(t *testing.T) {
	f := newFake(t, reply{Body: oneToolCallReply})
	resp, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("list pods"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StopReason != llm.StopToolUse || resp.Message.Text != "Let me look at the pods." || len(resp.Message.ToolCalls) != 1 {
		t.Fatalf("unexpected reply %+v", resp)
	}
	call := resp.Message.ToolCalls[0]
	if call.ID != "toolu_01" || call.Name != "list_pods" || string(call.Arguments) != `{"namespace": "default"}` || call.ArgumentsError != "" {
		t.Errorf("call %+v", call)
	}
}

func TestChatParallelToolCalls(t *testing.T) {
	f := newFake(t, reply{Body: twoToolCallsReply})
	resp, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("what is wrong in default?"))
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.Message.ToolCalls
	if len(calls) != 2 || calls[0].ID != "toolu_01" || calls[1].ID != "toolu_02" || calls[1].Name != "get_events" {
		t.Fatalf("calls %+v", calls)
	}
	var args map[string]any
	if err := json.Unmarshal(calls[1].Arguments, &args); err != nil || args["limit"] != float64(5) {
		t.Errorf("arguments %s: %v", calls[1].Arguments, err)
	}
}

// TestChatToolResults checks the follow-up on the wire: the assistant turn with its
// tool_use blocks, then one user turn with a tool_result block per call, each carrying
// tool_use_id and is_error, followed by the next question in the same turn.
func TestChatToolResults(t *testing.T) {
	f := newFake(t, reply{Body: twoToolCallsReply}, reply{Body: textReply})
	c := newClient(t, f, fastRetries)
	req := ask("what is wrong in default?")
	first, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	calls := first.Message.ToolCalls
	req.Messages = append(req.Messages, first.Message,
		llm.Message{Role: llm.RoleTool, ToolResults: []llm.ToolResult{
			{CallID: calls[0].ID, Name: calls[0].Name, Content: `[{"name":"web-1","phase":"Running"}]`},
			{CallID: calls[1].ID, Name: calls[1].Name, Content: "events is forbidden for alice", IsError: true},
		}},
		llm.Message{Role: llm.RoleUser, Text: "and now?"})
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}

	w := decode(t, f.Requests()[1])
	if len(w.Messages) != 3 {
		t.Fatalf("%d messages, want user, assistant, user", len(w.Messages))
	}
	a := w.Messages[1]
	if a.Role != "assistant" || len(a.Content) != 2 || a.Content[0].Type != "tool_use" || a.Content[0].ID != "toolu_01" ||
		a.Content[1].Name != "get_events" {
		t.Fatalf("assistant turn %+v", a)
	}
	var input map[string]any
	if err := json.Unmarshal(a.Content[1].Input, &input); err != nil || input["limit"] != float64(5) {
		t.Errorf("replayed input %s: %v", a.Content[1].Input, err)
	}
	u := w.Messages[2]
	if u.Role != "user" || len(u.Content) != 3 {
		t.Fatalf("user turn %+v", u)
	}
	for i, want := range []struct {
		id, text string
		isError  bool
	}{
		{"toolu_01", `[{"name":"web-1","phase":"Running"}]`, false},
		{"toolu_02", "events is forbidden for alice", true},
	} {
		b := u.Content[i]
		if b.Type != "tool_result" || b.ToolUseID != want.id || b.IsError != want.isError ||
			len(b.Content) != 1 || b.Content[0].Text != want.text {
			t.Errorf("tool_result %d: %+v", i, b)
		}
	}
	if u.Content[2].Type != "text" || u.Content[2].Text != "and now?" {
		t.Errorf("question after the results: %+v", u.Content[2])
	}
}

func TestChatMalformedArguments(t *testing.T) {
	f := newFake(t, reply{Body: malformedArgsReply}, reply{Body: textReply})
	c := newClient(t, f, fastRetries)
	req := ask("list pods")
	resp, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatalf("malformed arguments must not fail the call: %v", err)
	}
	if len(resp.Message.ToolCalls) != 1 {
		t.Fatalf("calls %+v", resp.Message.ToolCalls)
	}
	call := resp.Message.ToolCalls[0]
	if call.ID != "toolu_09" || !strings.Contains(call.ArgumentsError, "must be a JSON object") {
		t.Errorf("call %+v", call)
	}
	req.Messages = append(req.Messages, resp.Message, llm.Message{Role: llm.RoleTool, ToolResults: []llm.ToolResult{
		{CallID: call.ID, Name: call.Name, Content: call.ArgumentsError, IsError: true},
	}})
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if input := decode(t, f.Requests()[1]).Messages[1].Content[0].Input; string(input) != "{}" {
		t.Errorf("replayed broken input %s, want {}", input)
	}
}

func TestChatRetriesAfterRateLimit(t *testing.T) {
	f := newFake(t,
		reply{Status: 429, Header: map[string]string{"Retry-After": "1"}, Body: rateLimitedBody},
		reply{Body: textReply})
	start := time.Now()
	resp, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("retried after %s, before the server's Retry-After of 1s", elapsed)
	}
	if n := len(f.Requests()); n != 2 || resp.Message.Text == "" {
		t.Errorf("%d requests, reply %+v", n, resp)
	}
}

func TestChatRetriesServerErrors(t *testing.T) {
	f := newFake(t, reply{Status: 500, Body: serverErrorBody}, reply{Status: 529, Body: overloadedBody}, reply{Body: textReply})
	if _, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("hi")); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestChatGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFake(t, reply{Status: 529, Body: overloadedBody}, reply{Status: 529, Body: overloadedBody}, reply{Status: 529, Body: overloadedBody})
	_, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("hi"))
	e, ok := errors.AsType[*llm.Error](err)
	if !ok || e.Kind != llm.KindUnavailable || e.Attempts != 3 {
		t.Fatalf("error %v, want Unavailable after 3 attempts", err)
	}
}

func TestChatTimeout(t *testing.T) {
	f := newFake(t, reply{Delay: 30 * time.Second, Body: textReply})
	p := fastRetries
	p.Timeout = 300 * time.Millisecond
	_, err := newClient(t, f, p).Chat(t.Context(), ask("hi"))
	if llm.KindOf(err) != llm.KindTimeout {
		t.Fatalf("error %v, want kind Timeout", err)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("%d requests, want 1: a timeout is not retried", n)
	}
}

func TestChatTerminalErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   llm.Kind
	}{
		{"bad key", 401, badKeyBody, llm.KindAuth},
		{"no access", 403, forbiddenBody, llm.KindAuth},
		{"prompt too long", 400, tooLongBody, llm.KindContextTooLong},
		{"no credit", 400, billingBody, llm.KindQuotaExceeded},
		{"unknown model", 404, `{"type":"error","error":{"type":"not_found_error","message":"model: claude-9"},"request_id":"req_1"}`, llm.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{Status: tt.status, Body: tt.body})
			_, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("hi"))
			e, ok := errors.AsType[*llm.Error](err)
			if !ok {
				t.Fatalf("error %T %v, want *llm.Error", err, err)
			}
			t.Log(e.Error())
			if e.Kind != tt.want || e.StatusCode != tt.status || e.Provider != Provider {
				t.Errorf("got kind %s status %d provider %q, want %s %d: %v", e.Kind, e.StatusCode, e.Provider, tt.want, tt.status, e)
			}
			if n := len(f.Requests()); n != 1 {
				t.Errorf("%d requests, want 1 (not retried)", n)
			}
		})
	}
}
