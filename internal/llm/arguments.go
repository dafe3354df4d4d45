package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// NewToolCall builds a ToolCall from the arguments a provider returned, checking them
// once here so every provider treats malformed arguments alike: the call is still
// returned, with ArgumentsError set, because a model that garbles its JSON should be told
// so as a tool error rather than fail the whole conversation.
//
// Empty or null arguments mean an empty object: local OpenAI-compatible servers send ""
// for tools without parameters.
func NewToolCall(id, name string, raw []byte) ToolCall {
	call := ToolCall{ID: id, Name: name}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		call.Arguments = json.RawMessage("{}")
		return call
	}
	call.Arguments = json.RawMessage(bytes.Clone(raw))
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		var probe any
		if json.Unmarshal(trimmed, &probe) == nil {
			call.ArgumentsError = fmt.Sprintf("the arguments of %s must be a JSON object, got %s", name, jsonKind(probe))
		} else {
			call.ArgumentsError = fmt.Sprintf("the arguments of %s are not valid JSON: %v", name, err)
		}
	}
	return call
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// ArgumentsObject returns the call's arguments as a JSON object for replaying the call to
// a provider that needs an object (Gemini, Anthropic): malformed arguments become {} so
// the conversation stays well-formed; the error result that follows tells the model what
// went wrong.
func (c ToolCall) ArgumentsObject() map[string]any {
	obj := map[string]any{}
	if c.ArgumentsError != "" {
		return obj
	}
	if err := json.Unmarshal(c.Arguments, &obj); err != nil || obj == nil {
		return map[string]any{}
	}
	return obj
}
