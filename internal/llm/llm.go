// Package llm is the provider-neutral face of the language models the agent talks to.
//
// The agent loop speaks only these types; the sub-packages gemini, openai and anthropic
// translate them to and from each provider's official Go client. Robustness that must
// behave the same for every provider (retries, per-call timeout, rate limiting, error
// classification) lives here, in WithPolicy and Error, rather than in the SDKs, so that it
// is ours and testable.
package llm

import (
	"context"
	"encoding/json"
)

// Client sends one conversation turn to a model and returns its reply. A Client is bound
// to one model of one provider; it is safe for concurrent use.
//
// Every error returned by the provider adapters and by WithPolicy is an *Error.
type Client interface {
	Chat(ctx context.Context, req Request) (*Response, error)
}

// Request is the whole conversation so far; providers are stateless, so every turn
// sends everything.
type Request struct {
	// System is the system prompt (profile instructions). Empty sends none.
	System string
	// Messages is the conversation, oldest first. It must not be empty.
	Messages []Message
	// Tools declares the functions the model may call. Empty means none.
	Tools []Tool
	// ForbidToolCalls asks the model to answer without calling any of Tools, which stay
	// declared: Anthropic refuses a conversation that holds tool_use or tool_result
	// blocks when it defines no tools, and an unchanged tool list keeps the provider's
	// prompt cache. Ignored without Tools.
	ForbidToolCalls bool
	// MaxTokens bounds the reply. Zero uses the client's configured default.
	MaxTokens int
}

// Role says who produced a message.
type Role string

const (
	// RoleUser is a message from the person asking.
	RoleUser Role = "user"
	// RoleAssistant is a message from the model: text and/or tool calls.
	RoleAssistant Role = "assistant"
	// RoleTool carries the results of the tool calls of the preceding assistant message.
	RoleTool Role = "tool"
)

// Message is one turn of the conversation. Which fields are used depends on Role:
// user messages carry Text; assistant messages carry Text and/or ToolCalls; tool
// messages carry ToolResults.
type Message struct {
	Role        Role
	Text        string
	ToolCalls   []ToolCall
	ToolResults []ToolResult
}

// Tool declares a function the model may call.
type Tool struct {
	// Name is what the model uses to call the tool ([a-zA-Z0-9_-], at most 64 characters
	// for every provider).
	Name        string
	Description string
	// Parameters is the JSON schema of the argument object. Nil means no arguments.
	Parameters json.RawMessage
}

// ToolCall is the model asking to run a tool.
type ToolCall struct {
	// ID identifies the call; the matching ToolResult must carry it back.
	ID   string
	Name string
	// Arguments is the argument object as the model produced it. It is a valid JSON
	// object only when ArgumentsError is empty; otherwise it is the raw text (possibly
	// not JSON at all, so do not embed it with json.Marshal as a RawMessage).
	Arguments json.RawMessage
	// ArgumentsError says why Arguments is unusable, for example "unexpected end of JSON
	// input". The agent should not run the tool and should answer with an error
	// ToolResult quoting it, so the model can correct itself.
	ArgumentsError string
	// Opaque is provider state that must travel back with this call when the assistant
	// message is replayed (Gemini's thought signature). Treat it as a blob.
	Opaque []byte
}

// ToolResult answers one ToolCall.
type ToolResult struct {
	// CallID is the ToolCall's ID.
	CallID string
	// Name is the tool's name; Gemini matches results to calls by name.
	Name string
	// Content is what the tool returned, or the error text when IsError is set.
	Content string
	// IsError marks a failed call so the model knows the content is an error.
	IsError bool
}

// StopReason says why the model stopped.
type StopReason string

const (
	// StopEndTurn means the model finished its answer.
	StopEndTurn StopReason = "EndTurn"
	// StopToolUse means the model wants the tool calls of the message run.
	StopToolUse StopReason = "ToolUse"
	// StopMaxTokens means the reply was cut at MaxTokens.
	StopMaxTokens StopReason = "MaxTokens"
	// StopContentFiltered means the provider withheld or cut the reply (safety, refusal).
	StopContentFiltered StopReason = "ContentFiltered"
	// StopMalformedToolCall means the model tried to call a tool but the provider could
	// not even parse the call (Gemini's MALFORMED_FUNCTION_CALL), so there is no call to
	// answer. The agent should tell the model, for example with a user message quoting
	// Response.StopMessage, and ask again. Calls whose arguments are merely bad JSON come
	// back as ToolCalls with ArgumentsError instead.
	StopMalformedToolCall StopReason = "MalformedToolCall"
	// StopOther is any other reason; Response.RawStopReason has the provider's word.
	StopOther StopReason = "Other"
)

// Usage counts the tokens of one call, as the provider reported them.
type Usage struct {
	InputTokens  int64
	OutputTokens int64
}

// Total is input plus output tokens.
func (u Usage) Total() int64 { return u.InputTokens + u.OutputTokens }

// Response is the model's reply to one Request.
type Response struct {
	// Message is the assistant message (Role is RoleAssistant). Append it to the
	// conversation as is, Opaque fields included, before the tool results.
	Message Message
	// StopReason is the neutral reason; when there are tool calls it is StopToolUse
	// whatever the provider said.
	StopReason StopReason
	// RawStopReason is the provider's own stop or finish reason.
	RawStopReason string
	// StopMessage is the provider's explanation of the stop, when it gave one.
	StopMessage string
	Usage       Usage
	// Model is the model id the provider says answered.
	Model string
}
