package gemini

import (
	"net/http"

	"github.com/kubeask/kubeask/internal/llm/llmtest"

	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubeask/kubeask/internal/llm"
)

// The replies below are in the shape the Gemini API (generativelanguage.googleapis.com,
// v1beta) sends: GenerateContentResponse in camelCase, errors as google.rpc.Status with
// details.

const textReply = `{
  "candidates": [{"content": {"parts": [{"text": "All 3 pods "}, {"text": "are Running."}], "role": "model"},
    "finishReason": "STOP", "index": 0}],
  "usageMetadata": {"promptTokenCount": 52, "candidatesTokenCount": 9, "thoughtsTokenCount": 3, "totalTokenCount": 64,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 52}]},
  "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"
}`

// oneToolCallReply has no call id, as older models send it, and a thought signature,
// as thinking models send it.
const oneToolCallReply = `{
  "candidates": [{"content": {"parts": [
      {"text": "thinking about pods", "thought": true},
      {"functionCall": {"name": "list_pods", "args": {"namespace": "default"}}, "thoughtSignature": "c2lnLTE="}],
    "role": "model"}, "finishReason": "STOP", "index": 0}],
  "usageMetadata": {"promptTokenCount": 80, "candidatesTokenCount": 17, "totalTokenCount": 97},
  "modelVersion": "gemini-2.5-flash", "responseId": "resp-2"
}`

const twoToolCallsReply = `{
  "candidates": [{"content": {"parts": [
      {"functionCall": {"id": "fc-1", "name": "list_pods", "args": {"namespace": "default"}}, "thoughtSignature": "c2lnLTI="},
      {"functionCall": {"id": "fc-2", "name": "get_events", "args": {"namespace": "default", "limit": 5}}}],
    "role": "model"}, "finishReason": "STOP", "index": 0}],
  "usageMetadata": {"promptTokenCount": 80, "candidatesTokenCount": 40, "totalTokenCount": 120},
  "modelVersion": "gemini-2.5-flash", "responseId": "resp-3"
}`

// malformedCallReply is what Gemini sends when the model garbles a function call: no
// call at all, only a finish reason.
const malformedCallReply = `{
  "candidates": [{"content": {}, "finishReason": "MALFORMED_FUNCTION_CALL",
    "finishMessage": "Malformed function call: print(default_api.list_pods(namespace='default'", "index": 0}],
  "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10},
  "modelVersion": "gemini-2.5-flash", "responseId": "resp-4"
}`

const (
	rateLimitedBody = `{"error": {"code": 429, "message": "You exceeded your current quota, please check your plan and billing details.", "status": "RESOURCE_EXHAUSTED",
  "details": [
    {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
    {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]}}`
	serverErrorBody = `{"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}}`
	overloadedBody  = `{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}`
	badKeyBody      = `{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
  "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]}}`
	deniedBody  = `{"error": {"code": 403, "message": "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "status": "PERMISSION_DENIED"}}`
	tooLongBody = `{"error": {"code": 400, "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", "status": "INVALID_ARGUMENT"}}`
	notFound    = `{"error": {"code": 404, "message": "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.", "status": "NOT_FOUND"}}`
)

var listPods = llm.Tool{
	Name:        "list_pods",
	Description: "List pods in a namespace.",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"namespace":{"type":"string"}},"required":["namespace"],"additionalProperties":false}`),
}

var fastRetries = llm.Policy{Timeout: 20 * time.Second, MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}

func newClient(t *testing.T, f *llmtest.Scripted, p llm.Policy) llm.Client {
	t.Helper()
	c, err := New(t.Context(), Config{Model: "gemini-2.5-flash", BaseURL: f.URL, APIKey: "gemini-test-key", MaxTokens: 2048})
	if err != nil {
		t.Fatal(err)
	}
	return llm.WithPolicy(c, p)
}

func ask(text string) llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Text: text}}, Tools: []llm.Tool{listPods}}
}

// wireRequest is the generateContent request as it travels.
type wireRequest struct {
	Contents          []wireContent `json:"contents"`
	SystemInstruction *wireContent  `json:"systemInstruction"`
	Tools             []struct {
		FunctionDeclarations []struct {
			Name                 string         `json:"name"`
			Description          string         `json:"description"`
			ParametersJSONSchema map[string]any `json:"parametersJsonSchema"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
	GenerationConfig struct {
		MaxOutputTokens int `json:"maxOutputTokens"`
	} `json:"generationConfig"`
}

type wireContent struct {
	Role  string `json:"role"`
	Parts []struct {
		Text         string `json:"text"`
		FunctionCall *struct {
			ID   string         `json:"id"`
			Name string         `json:"name"`
			Args map[string]any `json:"args"`
		} `json:"functionCall"`
		FunctionResponse *struct {
			ID       string         `json:"id"`
			Name     string         `json:"name"`
			Response map[string]any `json:"response"`
		} `json:"functionResponse"`
		ThoughtSignature string `json:"thoughtSignature"`
	} `json:"parts"`
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
	t.Setenv("GOOGLE_API_KEY", "from-environment")
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
	if resp.Usage != (llm.Usage{InputTokens: 52, OutputTokens: 12}) || resp.Model != "gemini-2.5-flash" {
		t.Errorf("usage %+v model %q", resp.Usage, resp.Model)
	}

	got := f.Requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	if got[0].Method != http.MethodPost || got[0].Path != "/v1beta/models/gemini-2.5-flash:generateContent" {
		t.Errorf("request %s %s", got[0].Method, got[0].Path)
	}
	if key := got[0].Header.Get("X-Goog-Api-Key"); key != "gemini-test-key" {
		t.Errorf("x-goog-api-key %q, want the configured key and never the environment's", key)
	}
	w := decode(t, got[0])
	if w.SystemInstruction == nil || len(w.SystemInstruction.Parts) != 1 || w.SystemInstruction.Parts[0].Text != req.System {
		t.Errorf("systemInstruction %+v", w.SystemInstruction)
	}
	if len(w.Contents) != 1 || w.Contents[0].Role != "user" || w.Contents[0].Parts[0].Text != "are my pods ok?" {
		t.Errorf("contents %+v", w.Contents)
	}
	if len(w.Tools) != 1 || len(w.Tools[0].FunctionDeclarations) != 1 {
		t.Fatalf("tools %+v", w.Tools)
	}
	decl := w.Tools[0].FunctionDeclarations[0]
	if decl.Name != "list_pods" || decl.Description != "List pods in a namespace." ||
		decl.ParametersJSONSchema["additionalProperties"] != false || decl.ParametersJSONSchema["type"] != "object" {
		t.Errorf("declaration %+v", decl)
	}
	if w.GenerationConfig.MaxOutputTokens != 2048 {
		t.Errorf("maxOutputTokens %d", w.GenerationConfig.MaxOutputTokens)
	}
}

// TestChatSingleToolCall also replays the call: a call without an id gets one for the
// agent, which is not sent back to Gemini, while the thought signature is.
func TestChatSingleToolCall(t *testing.T) {
	f := newFake(t, reply{Body: oneToolCallReply}, reply{Body: textReply})
	c := newClient(t, f, fastRetries)
	req := ask("list pods")
	resp, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StopReason != llm.StopToolUse || resp.Message.Text != "" || len(resp.Message.ToolCalls) != 1 {
		t.Fatalf("unexpected reply %+v", resp)
	}
	call := resp.Message.ToolCalls[0]
	if call.ID == "" || call.Name != "list_pods" || string(call.Arguments) != `{"namespace":"default"}` || string(call.Opaque) != "sig-1" {
		t.Errorf("call %+v", call)
	}

	req.Messages = append(req.Messages, resp.Message, llm.Message{Role: llm.RoleTool, ToolResults: []llm.ToolResult{
		{CallID: call.ID, Name: call.Name, Content: "web-1 Running"},
	}})
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	w := decode(t, f.Requests()[1])
	part := w.Contents[1].Parts[0]
	if part.FunctionCall == nil || part.FunctionCall.ID != "" || part.FunctionCall.Name != "list_pods" ||
		part.ThoughtSignature != base64.StdEncoding.EncodeToString([]byte("sig-1")) {
		t.Errorf("replayed call %+v", part)
	}
	if fr := w.Contents[2].Parts[0].FunctionResponse; fr == nil || fr.ID != "" || fr.Name != "list_pods" {
		t.Errorf("function response %+v", fr)
	}
}

func TestChatParallelToolCalls(t *testing.T) {
	f := newFake(t, reply{Body: twoToolCallsReply})
	resp, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("what is wrong in default?"))
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.Message.ToolCalls
	if len(calls) != 2 || calls[0].ID != "fc-1" || calls[1].ID != "fc-2" || calls[1].Name != "get_events" {
		t.Fatalf("calls %+v", calls)
	}
	var args map[string]any
	if err := json.Unmarshal(calls[1].Arguments, &args); err != nil || args["limit"] != float64(5) {
		t.Errorf("arguments %s: %v", calls[1].Arguments, err)
	}
}

// TestChatToolResults checks the follow-up on the wire: the model turn with its
// functionCall parts, then one user turn with a functionResponse part per call, named,
// with its id, and the result under "output" or "error".
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
		{CallID: calls[1].ID, Name: calls[1].Name, Content: "events is forbidden for alice", IsError: true},
	}})
	if _, err := c.Chat(t.Context(), req); err != nil {
		t.Fatal(err)
	}

	w := decode(t, f.Requests()[1])
	if len(w.Contents) != 3 {
		t.Fatalf("%d contents, want user, model, user", len(w.Contents))
	}
	m := w.Contents[1]
	if m.Role != "model" || len(m.Parts) != 2 || m.Parts[0].FunctionCall == nil || m.Parts[0].FunctionCall.ID != "fc-1" ||
		m.Parts[0].ThoughtSignature == "" || m.Parts[1].FunctionCall == nil || m.Parts[1].FunctionCall.Args["limit"] != float64(5) {
		t.Fatalf("model turn %+v", m)
	}
	u := w.Contents[2]
	if u.Role != "user" || len(u.Parts) != 2 {
		t.Fatalf("user turn %+v", u)
	}
	for i, want := range []struct{ id, name, key, value string }{
		{"fc-1", "list_pods", "output", `[{"name":"web-1","phase":"Running"}]`},
		{"fc-2", "get_events", "error", "events is forbidden for alice"},
	} {
		fr := u.Parts[i].FunctionResponse
		if fr == nil || fr.ID != want.id || fr.Name != want.name || fr.Response[want.key] != want.value || len(fr.Response) != 1 {
			t.Errorf("functionResponse %d: %+v", i, fr)
		}
	}
}

// TestChatReplaySignatures checks the thoughtSignature of replayed functionCall parts on
// the wire. A conversation rebuilt from an AgentQuery status has no signatures, which
// Gemini 3 answers with a 400 unless the first functionCall part of each model step
// carries Google's documented dummy; real signatures travel as received, and later
// parallel calls stay unsigned as Gemini sent them.
func TestChatReplaySignatures(t *testing.T) {
	// thoughtSignature is bytes, so JSON carries it in base64.
	const (
		dummy  = "c2tpcF90aG91Z2h0X3NpZ25hdHVyZV92YWxpZGF0b3I=" // "skip_thought_signature_validator"
		signed = "c2lnLTE="                                     // "sig-1"
	)
	call := func(id, sig string) llm.ToolCall {
		c := llm.NewToolCall(id, "list_pods", []byte(`{"namespace":"default"}`))
		if sig != "" {
			c.Opaque = []byte(sig)
		}
		return c
	}
	type step struct {
		text  string
		calls []llm.ToolCall
	}
	tests := []struct {
		name  string
		steps []step
		// want has, per model step, the thoughtSignature of each functionCall part.
		want [][]string
	}{
		{"signature kept", []step{{calls: []llm.ToolCall{call("fc-1", "sig-1")}}}, [][]string{{signed}}},
		{"rebuilt call gets the dummy", []step{{calls: []llm.ToolCall{call("fc-1", "")}}}, [][]string{{dummy}}},
		{"dummy on the call, not on the text before it",
			[]step{{text: "Let me look at the pods.", calls: []llm.ToolCall{call("fc-1", "")}}}, [][]string{{dummy}}},
		{"parallel calls signed on the first only",
			[]step{{calls: []llm.ToolCall{call("fc-1", "sig-1"), call("fc-2", "")}}}, [][]string{{signed, ""}}},
		{"rebuilt parallel calls get the dummy on the first only",
			[]step{{calls: []llm.ToolCall{call("fc-1", ""), call("fc-2", "")}}}, [][]string{{dummy, ""}}},
		{"each step's first call is signed",
			[]step{{calls: []llm.ToolCall{call("fc-1", "sig-1")}}, {calls: []llm.ToolCall{call("fc-2", "")}}},
			[][]string{{signed}, {dummy}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, reply{Body: textReply})
			req := ask("why is web-1 failing?")
			for _, s := range tt.steps {
				var results []llm.ToolResult
				for _, c := range s.calls {
					results = append(results, llm.ToolResult{CallID: c.ID, Name: c.Name, Content: "web-1 CrashLoopBackOff"})
				}
				req.Messages = append(req.Messages,
					llm.Message{Role: llm.RoleAssistant, Text: s.text, ToolCalls: s.calls},
					llm.Message{Role: llm.RoleTool, ToolResults: results})
			}
			if _, err := newClient(t, f, fastRetries).Chat(t.Context(), req); err != nil {
				t.Fatal(err)
			}

			w := decode(t, f.Requests()[0])
			var got [][]string
			for _, c := range w.Contents {
				if c.Role != "model" {
					continue
				}
				var sigs []string
				for _, p := range c.Parts {
					switch {
					case p.FunctionCall != nil:
						sigs = append(sigs, p.ThoughtSignature)
					case p.ThoughtSignature != "":
						t.Errorf("signature %q on a part that is no function call: %+v", p.ThoughtSignature, p)
					}
				}
				got = append(got, sigs)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("thoughtSignatures per model step %q, want %q", got, tt.want)
			}
		})
	}
}

// TestChatMalformedFunctionCall: Gemini reports a garbled call as a finish reason; the
// call still succeeds so the agent can tell the model.
func TestChatMalformedFunctionCall(t *testing.T) {
	f := newFake(t, reply{Body: malformedCallReply})
	resp, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("list pods"))
	if err != nil {
		t.Fatalf("a malformed call must not fail the call: %v", err)
	}
	if resp.StopReason != llm.StopMalformedToolCall || resp.StopMessage == "" ||
		resp.RawStopReason != "MALFORMED_FUNCTION_CALL" {
		t.Errorf("reply %+v", resp)
	}
}

func TestChatRetriesAfterRateLimit(t *testing.T) {
	tests := []struct {
		name  string
		first reply
	}{
		// Gemini says how long to wait in a RetryInfo detail.
		{"RetryInfo", reply{Status: 429, Body: rateLimitedBody}},
		// A proxy in front says it with Retry-After.
		{"Retry-After", reply{Status: 503, Header: map[string]string{"Retry-After": "1"}, Body: overloadedBody}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.first, reply{Body: textReply})
			start := time.Now()
			resp, err := newClient(t, f, fastRetries).Chat(t.Context(), ask("hi"))
			if err != nil {
				t.Fatal(err)
			}
			if elapsed := time.Since(start); elapsed < time.Second {
				t.Errorf("retried after %s, before the server's 1s", elapsed)
			}
			if n := len(f.Requests()); n != 2 || resp.Message.Text == "" {
				t.Errorf("%d requests, reply %+v", n, resp)
			}
		})
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
		// Gemini reports a wrong key as a 400 with reason API_KEY_INVALID.
		{"bad key", 400, badKeyBody, llm.KindAuth},
		{"denied", 403, deniedBody, llm.KindAuth},
		{"unauthenticated", 401, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`, llm.KindAuth},
		{"input too long", 400, tooLongBody, llm.KindContextTooLong},
		{"unknown model", 404, notFound, llm.KindNotFound},
		{"bad schema", 400, `{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name \"foo\"","status":"INVALID_ARGUMENT"}}`, llm.KindBadRequest},
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
			if strings.Contains(e.Error(), "gemini-test-key") {
				t.Errorf("message leaks the API key: %v", e)
			}
		})
	}
}

func TestNewRequiresAPIKey(t *testing.T) {
	t.Setenv("GOOGLE_API_KEY", "from-environment")
	if _, err := New(t.Context(), Config{Model: "gemini-2.5-flash"}); err == nil {
		t.Error("no error without an API key; genai would have used the environment's")
	}
}
