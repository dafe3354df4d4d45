package openai

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

// The replies below are in the shape api.openai.com sends (see the SDK's
// chatcompletion.go types and its error decoding in internal/requestconfig).

const textReply = `{
  "id": "chatcmpl-1", "object": "chat.completion", "created": 1730000000, "model": "gpt-4.1-2025-04-14",
  "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
    "message": {"role": "assistant", "content": "All 3 pods are Running.", "refusal": null, "annotations": []}}],
  "usage": {"prompt_tokens": 52, "completion_tokens": 9, "total_tokens": 61}
}`

const oneToolCallReply = `{
  "id": "chatcmpl-2", "object": "chat.completion", "created": 1730000000, "model": "gpt-4.1-2025-04-14",
  "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
    "message": {"role": "assistant", "content": null, "refusal": null,
      "tool_calls": [{"id": "call_a1", "type": "function",
        "function": {"name": "list_pods", "arguments": "{\"namespace\":\"default\"}"}}]}}],
  "usage": {"prompt_tokens": 80, "completion_tokens": 17, "total_tokens": 97}
}`

const twoToolCallsReply = `{
  "id": "chatcmpl-3", "object": "chat.completion", "created": 1730000000, "model": "gpt-4.1-2025-04-14",
  "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
    "message": {"role": "assistant", "content": null, "refusal": null,
      "tool_calls": [
        {"id": "call_a1", "type": "function", "function": {"name": "list_pods", "arguments": "{\"namespace\":\"default\"}"}},
        {"id": "call_b2", "type": "function", "function": {"name": "get_events", "arguments": "{\"namespace\":\"default\",\"limit\":5}"}}]}}],
  "usage": {"prompt_tokens": 80, "completion_tokens": 40, "total_tokens": 120}
}`

const malformedArgsReply = `{
  "id": "chatcmpl-4", "object": "chat.completion", "created": 1730000000, "model": "llama3.1:8b",
  "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
    "message": {"role": "assistant", "content": "",
      "tool_calls": [
        {"id": "call_x", "type": "function", "function": {"name": "list_pods", "arguments": "{\"namespace\": \"default\""}},
        {"id": "call_y", "type": "function", "function": {"name": "get_events", "arguments": ""}}]}}],
  "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
}`

const (
	rateLimitedBody = `{"error": {"message": "Rate limit reached for gpt-4.1 in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}`
	serverErrorBody = `{"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": null}}`
	badKeyBody      = `{"error": {"message": "Incorrect API key provided: sk-wrong. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}`
	tooLongBody     = `{"error": {"message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens. Please reduce the length of the messages.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}`
	noQuotaBody     = `{"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}`
	// vLLM does not wrap its errors in {"error": ...}.
	vllmTooLongBody = `{"object": "error", "message": "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (8000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.", "type": "BadRequestError", "param": null, "code": 400}`
)

var listPods = llm.Tool{
	Name:        "list_pods",
	Description: "List pods in a namespace.",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"namespace":{"type":"string"}},"required":["namespace"]}`),
}

// fastRetries keeps backoff short; Retry-After from the server still applies in full.
var fastRetries = llm.Policy{Timeout: 20 * time.Second, MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}

func newClient(t *testing.T, f *llmtest.Scripted, p llm.Policy) llm.Client {
	t.Helper()
	c, err := New(Config{Model: "gpt-4.1", BaseURL: f.URL + "/v1", APIKey: "sk-test", MaxTokens: 1024})
	if err != nil {
		t.Fatal(err)
	}
	return llm.WithPolicy(c, p)
}

func ask(text string) llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Text: text}}, Tools: []llm.Tool{listPods}}
}

// wireRequest is the chat completion request as it travels.
type wireRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCallID string          `json:"tool_call_id"`
		ToolCalls  []struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Function struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			} `json:"function"`
		} `json:"tool_calls"`
	} `json:"messages"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string         `json:"name"`
			Description string         `json:"description"`
			Parameters  map[string]any `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	MaxTokens           *int `json:"max_tokens"`
	MaxCompletionTokens *int `json:"max_completion_tokens"`
}

func decode(t *testing.T, r received) wireRequest {
	t.Helper()
	var w wireRequest
	if err := json.Unmarshal(r.Body, &w); err != nil {
		t.Fatalf("request body is not JSON: %v\n%s", err, r.Body)
	}
	return w
}

func contentString(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("content %s is not a string: %v", raw, err)
	}
	return s
}

func TestChatText(t *testing.T) {
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
	if resp.Usage != (llm.Usage{InputTokens: 52, OutputTokens: 9}) || resp.Model != "gpt-4.1-2025-04-14" {
		t.Errorf("usage %+v model %q", resp.Usage, resp.Model)
	}

	got := f.Requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	if got[0].Method != http.MethodPost || got[0].Path != "/v1/chat/completions" {
		t.Errorf("request %s %s", got[0].Method, got[0].Path)
	}
	if auth := got[0].Header.Get("Authorization"); auth != "Bearer sk-test" {
		t.Errorf("Authorization %q", auth)
	}
	w := decode(t, got[0])
	if w.Model != "gpt-4.1" || len(w.Messages) != 2 {
		t.Fatalf("model %q, %d messages", w.Model, len(w.Messages))
	}
	if w.Messages[0].Role != "system" || contentString(t, w.Messages[0].Content) != req.System {
		t.Errorf("system message %+v", w.Messages[0])
	}
	if w.Messages[1].Role != "user" || contentString(t, w.Messages[1].Content) != "are my pods ok?" {
		t.Errorf("user message %+v", w.Messages[1])
	}
	if len(w.Tools) != 1 || w.Tools[0].Type != "function" || w.Tools[0].Function.Name != "list_pods" ||
		w.Tools[0].Function.Description != "List pods in a namespace." || w.Tools[0].Function.Parameters["type"] != "object" {
		t.Errorf("tools %+v", w.Tools)
	}
	// A local endpoint gets max_tokens, which every compatible server understands.
	if w.MaxTokens == nil || *w.MaxTokens != 1024 || w.MaxCompletionTokens != nil {
		t.Errorf("max_tokens %v max_completion_tokens %v", w.MaxTokens, w.MaxCompletionTokens)
	}
}

// TestChatWithoutAPIKey covers local servers: no key means no Authorization header,
// even when the manager's environment has one.
func TestChatWithoutAPIKey(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-environment")
	f := newFake(t, reply{Body: textReply})
	c, err := New(Config{Model: "llama3.1:8b", BaseURL: f.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Chat(t.Context(), ask("hi")); err != nil {
		t.Fatal(err)
	}
	if auth := f.Requests()[0].Header.Get("Authorization"); auth != "" {
		t.Errorf("Authorization %q sent to a server configured without a key", auth)
	}
}

func TestChatSingleToolCall(t *testing.T) {
	f := newFake(t, reply{Body: oneToolCallReply})
	resp, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("list pods"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StopReason != llm.StopToolUse || len(resp.Message.ToolCalls) != 1 {
		t.Fatalf("unexpected reply %+v", resp)
	}
	call := resp.Message.ToolCalls[0]
	if call.ID != "call_a1" || call.Name != "list_pods" || string(call.Arguments) != `{"namespace":"default"}` || call.ArgumentsError != "" {
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
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	if calls[0].ID != "call_a1" || calls[1].ID != "call_b2" || calls[1].Name != "get_events" ||
		string(calls[1].Arguments) != `{"namespace":"default","limit":5}` {
		t.Errorf("calls %+v", calls)
	}
}

// TestChatToolResults sends the model's calls and their results back and checks the
// wire: the assistant message with tool_calls, then one role "tool" message per result
// carrying its tool_call_id.
func TestChatToolResults(t *testing.T) {
	f := newFake(t, reply{Body: twoToolCallsReply}, reply{Body: textReply})
	c := newClient(t, f, fastRetries)
	req := ask("what is wrong in default?")
	first, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	calls := first.Message.ToolCalls
	req.Messages = append(req.Messages, first.Message, llm.Message{Role: llm.RoleTool, ToolResults: []llm.ToolResult{
		{CallID: calls[0].ID, Name: calls[0].Name, Content: `[{"name":"web-1","phase":"Running"}]`},
		{CallID: calls[1].ID, Name: calls[1].Name, Content: `events is forbidden for alice`, IsError: true},
	}})
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}

	w := decode(t, f.Requests()[1])
	if len(w.Messages) != 4 {
		t.Fatalf("%d messages, want user, assistant, tool, tool", len(w.Messages))
	}
	a := w.Messages[1]
	if a.Role != "assistant" || len(a.ToolCalls) != 2 || a.ToolCalls[0].ID != "call_a1" || a.ToolCalls[0].Type != "function" ||
		a.ToolCalls[1].Function.Name != "get_events" || a.ToolCalls[1].Function.Arguments != `{"namespace":"default","limit":5}` {
		t.Errorf("assistant message %+v", a)
	}
	for i, want := range []struct{ id, content string }{
		{"call_a1", `[{"name":"web-1","phase":"Running"}]`},
		{"call_b2", "Error: events is forbidden for alice"},
	} {
		m := w.Messages[2+i]
		if m.Role != "tool" || m.ToolCallID != want.id || contentString(t, m.Content) != want.content {
			t.Errorf("tool message %d: role %q tool_call_id %q content %s", i, m.Role, m.ToolCallID, m.Content)
		}
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
	calls := resp.Message.ToolCalls
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	if calls[0].ArgumentsError == "" || string(calls[0].Arguments) != `{"namespace": "default"` {
		t.Errorf("broken call %+v", calls[0])
	}
	if calls[1].ArgumentsError != "" || string(calls[1].Arguments) != "{}" {
		t.Errorf("empty arguments should read as {}: %+v", calls[1])
	}

	// The conversation still goes on: the broken call is replayed as {} with its error.
	req.Messages = append(req.Messages, resp.Message, llm.Message{Role: llm.RoleTool, ToolResults: []llm.ToolResult{
		{CallID: calls[0].ID, Name: calls[0].Name, Content: calls[0].ArgumentsError, IsError: true},
		{CallID: calls[1].ID, Name: calls[1].Name, Content: "[]"},
	}})
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	w := decode(t, f.Requests()[1])
	if args := w.Messages[1].ToolCalls[0].Function.Arguments; args != "{}" {
		t.Errorf("replayed broken arguments %q, want {}", args)
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

func TestChatRetriesServerError(t *testing.T) {
	f := newFake(t, reply{Status: 500, Body: serverErrorBody}, reply{Body: textReply})
	if _, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("hi")); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
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
	if !strings.Contains(err.Error(), "300ms") {
		t.Errorf("message %q does not name the timeout", err)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("%d requests, want 1: a timeout is not retried", n)
	}
}

// TestChatTerminalErrors covers errors that must be classified and not retried.
func TestChatTerminalErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   llm.Kind
	}{
		{"bad key", 401, badKeyBody, llm.KindAuth},
		{"context too long", 400, tooLongBody, llm.KindContextTooLong},
		{"vllm context too long", 400, vllmTooLongBody, llm.KindContextTooLong},
		{"out of quota", 429, noQuotaBody, llm.KindQuotaExceeded},
		{"unknown model", 404, `{"error":{"message":"The model 'gpt-9' does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}`, llm.KindNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{Status: tt.status, Body: tt.body})
			_, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("hi"))
			e, ok := errors.AsType[*llm.Error](err)
			if !ok {
				t.Fatalf("error %T %v, want *llm.Error", err, err)
			}
			if e.Kind != tt.want || e.StatusCode != tt.status || e.Provider != Provider {
				t.Errorf("got kind %s status %d provider %q, want %s %d: %v", e.Kind, e.StatusCode, e.Provider, tt.want, tt.status, e)
			}
			if n := len(f.Requests()); n != 1 {
				t.Errorf("%d requests, want 1 (not retried)", n)
			}
			t.Log(e.Error())
			if strings.Contains(e.Error(), "sk-test") {
				t.Errorf("message leaks the API key: %v", e)
			}
		})
	}
}

// TestMaxTokensField: OpenAI's own endpoints get max_completion_tokens (reasoning
// models reject max_tokens); compatible servers get max_tokens, which they all know.
func TestMaxTokensField(t *testing.T) {
	tests := []struct {
		baseURL    string
		wantLegacy bool
	}{
		{"", false},
		{"https://api.openai.com/v1", false},
		{"https://my-resource.openai.azure.com/openai/v1", false},
		{"https://my-resource.cognitiveservices.azure.com/openai/v1", false},
		{"http://ollama.ai.svc:11434/v1", true},
		{"http://vllm:8000/v1", true},
	}
	for _, tt := range tests {
		t.Run(tt.baseURL, func(t *testing.T) {
			c, err := New(Config{Model: "m", BaseURL: tt.baseURL})
			if err != nil {
				t.Fatal(err)
			}
			if c.legacyMaxTokens != tt.wantLegacy {
				t.Errorf("legacyMaxTokens %v, want %v", c.legacyMaxTokens, tt.wantLegacy)
			}
		})
	}
	if _, err := New(Config{Model: "m", BaseURL: "ollama:11434"}); err == nil {
		t.Error("no error for a relative base URL")
	}
}

// TestToolDeclarationsAreEncodedOnceAndFollowChanges: the cached encoding of a tool is
// what travels on every call, and a tool whose description or schema changes is sent
// as it is now.
func TestToolDeclarationsAreEncodedOnceAndFollowChanges(t *testing.T) {
	f := newFake(t, reply{Body: textReply}, reply{Body: textReply}, reply{Body: textReply})
	c := newClient(t, f, fastRetries)
	changed := listPods
	changed.Parameters = json.RawMessage(`{"type":"object","properties":{"namespace":{"type":"string"},"label":{"type":"string"}}}`)
	for _, tool := range []llm.Tool{listPods, listPods, changed} {
		req := ask("are my pods ok?")
		req.Tools = []llm.Tool{tool}
		if _, err := c.Chat(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	got := f.Requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	tools := llmtest.Fields(t, got, "tools")
	if tools[0] != tools[1] {
		t.Errorf("the same tool was sent differently:\n%s\n%s", tools[0], tools[1])
	}
	w := decode(t, got[2])
	props, _ := w.Tools[0].Function.Parameters["properties"].(map[string]any)
	if _, ok := props["label"]; !ok || w.Tools[0].Function.Name != "list_pods" {
		t.Errorf("after the schema changed the tool went out as %s", tools[2])
	}
	w0 := decode(t, got[0])
	if w0.Tools[0].Type != "function" || w0.Tools[0].Function.Description != listPods.Description {
		t.Errorf("cached tool %s", tools[0])
	}
}
