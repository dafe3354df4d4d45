package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The Chat Completions rules, checked on every request a fake OpenAI-protocol server
// receives (NewServer, and NewScripted with OpenAI). Sources:
//
//   - API reference, https://platform.openai.com/docs/api-reference/chat/create: a tool
//     message's tool_call_id is the "Tool call that this message is responding to"; an
//     assistant message's content is "Required unless tool_calls or function_call is
//     specified"; tool_choice "none is the default when no tools are present".
//   - Function calling guide, https://platform.openai.com/docs/guides/function-calling:
//     the results of the calls of one assistant message are sent back as tool messages
//     right after it, one per call, each with the call's id.
//
// The error messages are the ones api.openai.com answers with (status 400, type
// invalid_request_error).
func checkOpenAIChat(body []byte) *Rejection {
	var req struct {
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID *string         `json:"tool_call_id"`
			ToolCalls  []struct {
				ID string `json:"id"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools      []json.RawMessage `json:"tools"`
		ToolChoice json.RawMessage   `json:"tool_choice"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return openAIError("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)", "", "")
	}
	if len(req.Messages) == 0 {
		return openAIError("[] is too short - 'messages'", "messages", "empty_array")
	}
	if len(req.ToolChoice) > 0 && string(req.ToolChoice) != "null" && len(req.Tools) == 0 {
		return openAIError("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice", "")
	}
	// calls are the ids of the latest assistant message's tool calls, from index from;
	// answered those a tool message answered already. open means only tool messages
	// came since that assistant message.
	var (
		calls    []string
		answered map[string]bool
		from     int
		open     bool
	)
	unanswered := func() []string {
		var out []string
		for _, id := range calls {
			if !answered[id] {
				out = append(out, id)
			}
		}
		return out
	}
	for i, m := range req.Messages {
		param := func(field string) string { return fmt.Sprintf("messages.[%d].%s", i, field) }
		if m.Role == "tool" {
			if !open {
				//nolint:misspell // api.openai.com's own words, misspelling included
				return openAIError("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", param("role"), "")
			}
			if m.ToolCallID == nil || *m.ToolCallID == "" {
				return openAIError(fmt.Sprintf("Missing required parameter: '%s'.", param("tool_call_id")), param("tool_call_id"), "missing_required_parameter")
			}
			// An id of no call of that message, or of a call answered already, is an
			// orphan result: there is no call left for it to answer.
			id := *m.ToolCallID
			if !slices.Contains(calls, id) || answered[id] {
				return openAIError(fmt.Sprintf("Invalid parameter: 'tool_call_id' of '%s' not found in 'tool_calls' of previous message.", id), param("tool_call_id"), "")
			}
			answered[id] = true
			continue
		}
		// Any other message closes the results of the latest assistant message: every one
		// of its calls must have been answered by then.
		if open {
			if missing := unanswered(); len(missing) > 0 {
				return openAIMissingResults(from, missing)
			}
			open = false
		}
		switch m.Role {
		case "system", "developer", "user":
		case "assistant":
			if len(m.ToolCalls) > 0 {
				calls, answered, from, open = nil, map[string]bool{}, i, true
				for _, c := range m.ToolCalls {
					calls = append(calls, c.ID)
				}
				continue
			}
			if c := strings.TrimSpace(string(m.Content)); c == "" || c == "null" {
				return openAIError(fmt.Sprintf("Invalid value for '%s': expected a string, got null.", param("content")), param("content"), "")
			}
		default:
			return openAIError(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", m.Role), param("role"), "invalid_value")
		}
	}
	if open {
		if missing := unanswered(); len(missing) > 0 {
			return openAIMissingResults(from, missing)
		}
	}
	return nil
}

func openAIMissingResults(assistant int, missing []string) *Rejection {
	return openAIError("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: "+
		strings.Join(missing, ", "), fmt.Sprintf("messages.[%d].role", assistant), "")
}

// openAIError is the error body of api.openai.com: {"error": {message, type, param,
// code}}, with null for an empty param or code.
func openAIError(message, param, code string) *Rejection {
	orNull := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	raw, _ := json.Marshal(map[string]any{"error": map[string]any{ //nolint:errchkjson // strings and nils always encode
		"message": message, "type": "invalid_request_error", "param": orNull(param), "code": orNull(code),
	}})
	return &Rejection{Status: http.StatusBadRequest, Message: message, Body: string(raw)}
}

// openAICompletion is a chat.completion object answering with reply; n numbers the
// completion and its call ids.
func openAICompletion(n int64, model string, reply Reply) map[string]any {
	msg := map[string]any{"role": "assistant", "content": reply.Text}
	finish := "stop"
	if len(reply.Calls) > 0 {
		var calls []map[string]any
		for i, c := range reply.Calls {
			calls = append(calls, map[string]any{
				"id": fmt.Sprintf("call_%d_%d", n, i), "type": "function",
				"function": map[string]any{"name": c.Name, "arguments": c.Args},
			})
		}
		msg["tool_calls"] = calls
		if reply.Text == "" {
			msg["content"] = nil
		}
		finish = "tool_calls"
	}
	in, out := reply.InputTokens, reply.OutputTokens
	if in == 0 && out == 0 {
		in, out = 10, 5
	}
	return map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", n), "object": "chat.completion", "created": 1730000000, "model": model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
	}
}
