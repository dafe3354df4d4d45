package llmtest

import (
	"encoding/json"
	"strings"
	"testing"
)

// Protocol is a provider's wire protocol as the fakes of this package speak it. Every
// fake of a provider checks each conversation it receives with the provider's rules
// (openai_rules.go, anthropic_rules.go, gemini_rules.go): a request the real API would
// refuse is refused here too, with the real API's status and error body, so that a test
// fails the way production would instead of passing against a lenient fake.
type Protocol string

// The protocols of the three providers.
const (
	// OpenAI is the Chat Completions protocol (OpenAI, Azure, vLLM, Ollama, ...).
	OpenAI Protocol = "openai"
	// Anthropic is the Messages API.
	Anthropic Protocol = "anthropic"
	// Gemini is the Gemini API's generateContent (and Vertex AI's, which is the same).
	Gemini Protocol = "gemini"
)

// Rejection is a request refused as the provider refuses it.
type Rejection struct {
	// Status is the HTTP status, 400 for every rule here.
	Status int
	// Message is the provider's explanation, as it appears in Body.
	Message string
	// Body is the error body in the provider's shape.
	Body string
}

// Check returns the provider's refusal of a request to path, or nil when the real API
// would accept it. Only conversation requests are checked; other paths pass.
func (p Protocol) Check(path string, body []byte) *Rejection {
	switch {
	case p == OpenAI && strings.HasSuffix(path, "/chat/completions"):
		return checkOpenAIChat(body)
	case p == Anthropic && strings.HasSuffix(path, "/messages"):
		return checkAnthropicMessages(body)
	case p == Gemini && (strings.HasSuffix(path, ":generateContent") || strings.HasSuffix(path, ":streamGenerateContent")):
		return checkGeminiContents(body)
	}
	return nil
}

// Reply is a successful answer in p's wire format, as the provider sends it: text,
// tool calls or both. turn makes the call ids unique across a conversation, as real
// ids are: OpenAI's are call_<turn>_<i>, Anthropic's toolu_<turn>_<i>; Gemini's calls
// carry no id, as the Gemini API's do, and are matched by name.
func (p Protocol) Reply(t testing.TB, turn int, text string, calls ...Call) Canned {
	t.Helper()
	var body any
	switch p {
	case OpenAI:
		body = openAICompletion(int64(turn), "fake-model", Reply{Text: text, Calls: calls})
	case Anthropic:
		body = anthropicMessage(turn, text, calls)
	case Gemini:
		body = geminiResponse(text, calls)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		// Only a Call with Args that are not JSON gets here; Anthropic and Gemini never
		// send such arguments, so a script that asks for them is wrong.
		t.Fatalf("llmtest: %s reply: %v", p, err)
	}
	return Canned{Body: string(raw)}
}

// argsObject is a call's arguments as a JSON value for providers that send an object
// (Anthropic's input, Gemini's args).
func argsObject(args string) json.RawMessage {
	if strings.TrimSpace(args) == "" {
		return json.RawMessage("{}")
	}
	return json.RawMessage(args)
}
