package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The Messages API rules, checked on every request a fake Anthropic server receives
// (NewScripted with Anthropic). Sources:
//
//   - Messages API reference, https://docs.anthropic.com/en/api/messages: the models
//     "are trained to operate on alternating user and assistant conversational turns";
//     a tool_use block's id and a tool_result block's tool_use_id; the tools parameter.
//     The API today merges consecutive same-role turns where older versions answered
//     "roles must alternate"; the fake keeps the older, stricter rule because the
//     adapter never sends two turns of one role and a fake that merged would hide a
//     change that did.
//   - Tool use, https://docs.anthropic.com/en/docs/build-with-claude/tool-use ("Handling
//     tool use and tool result content blocks"): "Tool result blocks must immediately
//     follow their corresponding tool use blocks in the message history"; "In the user
//     message containing tool results, the tool_result blocks must come FIRST in the
//     content array. Any text must come AFTER all tool results."
//   - Tool blocks need tools: the API answers "Requests which include `tool_use` or
//     `tool_result` blocks must define tools." to a request without them (no docs page
//     says so; see https://github.com/anthropics/anthropic-sdk-python/issues/494), which
//     is why a request that must be answered without tools keeps them (tool_choice none).
//
// The error messages are the ones api.anthropic.com answers with (status 400, type
// invalid_request_error).
func checkAnthropicMessages(body []byte) *Rejection {
	var req struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return anthropicError("The request body is not valid JSON: " + err.Error())
	}
	if len(req.Messages) == 0 {
		return anthropicError("messages: at least one message is required")
	}
	blocks := make([][]anthropicBlock, len(req.Messages))
	for i, m := range req.Messages {
		var text string
		if json.Unmarshal(m.Content, &text) == nil {
			blocks[i] = []anthropicBlock{{Type: "text", Text: &text}}
			continue
		}
		if err := json.Unmarshal(m.Content, &blocks[i]); err != nil {
			return anthropicError(fmt.Sprintf("messages.%d.content: Input should be a valid list", i))
		}
	}

	seen := map[string]bool{} // every tool_use id of the request
	hasToolBlocks := false
	for i, m := range req.Messages {
		switch {
		case m.Role != "user" && m.Role != "assistant":
			return anthropicError(fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i))
		case i == 0 && m.Role != "user":
			return anthropicError(`messages: first message must use the "user" role`)
		case i > 0 && m.Role == req.Messages[i-1].Role:
			return anthropicError(fmt.Sprintf(`messages: roles must alternate between "user" and "assistant", but found multiple %q roles in a row`, m.Role))
		}
		for j, b := range blocks[i] {
			switch b.Type {
			case "text":
				if b.Text == nil || *b.Text == "" {
					return anthropicError("messages: text content blocks must be non-empty")
				}
			case "tool_use":
				hasToolBlocks = true
				if m.Role != "assistant" {
					return anthropicError(fmt.Sprintf("messages.%d.content.%d: `tool_use` blocks can only be in `assistant` messages", i, j))
				}
				if !validToolUseID(b.ID) {
					return anthropicError(fmt.Sprintf("messages.%d.content.%d.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'", i, j))
				}
				if seen[b.ID] {
					return anthropicError(fmt.Sprintf("messages.%d.content.%d: `tool_use` ids must be unique", i, j))
				}
				seen[b.ID] = true
			case "tool_result":
				hasToolBlocks = true
				if m.Role != "user" {
					return anthropicError(fmt.Sprintf("messages.%d.content.%d: `tool_result` blocks can only be in `user` messages", i, j))
				}
			}
		}
		if m.Role == "user" {
			if rej := checkAnthropicResults(i, blocksOf(blocks, i-1, "tool_use"), blocks[i]); rej != nil {
				return rej
			}
		}
	}
	// A tool_use in the last message has no next message to be answered in.
	last := len(req.Messages) - 1
	if ids := idsOf(blocks[last], "tool_use"); len(ids) > 0 && req.Messages[last].Role == "assistant" {
		return anthropicUnanswered(last, ids)
	}
	if hasToolBlocks && len(req.Tools) == 0 {
		return anthropicError("Requests which include `tool_use` or `tool_result` blocks must define tools.")
	}
	return nil
}

// anthropicBlock is the part of a content block the rules look at.
type anthropicBlock struct {
	Type      string  `json:"type"`
	Text      *string `json:"text"`
	ID        string  `json:"id"`
	ToolUseID string  `json:"tool_use_id"`
}

// checkAnthropicResults checks user message i against the tool_use ids of the message
// before it: each of them answered in this very message, by tool_result blocks that
// come before anything else, and no tool_result for anything else.
func checkAnthropicResults(i int, uses []string, content []anthropicBlock) *Rejection {
	answered := map[string]bool{}
	for j, b := range content {
		if b.Type != "tool_result" {
			continue
		}
		if !slices.Contains(uses, b.ToolUseID) || answered[b.ToolUseID] {
			return anthropicError(fmt.Sprintf("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, b.ToolUseID))
		}
		answered[b.ToolUseID] = true
	}
	var missing []string
	for _, id := range uses {
		if !answered[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return anthropicUnanswered(i-1, missing)
	}
	for j := range uses {
		if j >= len(content) || content[j].Type != "tool_result" {
			return anthropicError(fmt.Sprintf("messages.%d: Did not find %d `tool_result` block(s) at the beginning of this message. Messages following `tool_use` blocks must begin with a matching number of `tool_result` blocks.", i, len(uses)))
		}
	}
	return nil
}

func anthropicUnanswered(i int, ids []string) *Rejection {
	return anthropicError(fmt.Sprintf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i, strings.Join(ids, ", ")))
}

// blocksOf returns the ids of the blocks of type typ in message i, none if i < 0.
func blocksOf(blocks [][]anthropicBlock, i int, typ string) []string {
	if i < 0 {
		return nil
	}
	return idsOf(blocks[i], typ)
}

func idsOf(content []anthropicBlock, typ string) []string {
	var ids []string
	for _, b := range content {
		if b.Type == typ {
			ids = append(ids, b.ID)
		}
	}
	return ids
}

// validToolUseID is the pattern the request schema sets for a tool_use block's id
// ("String should match pattern '^[a-zA-Z0-9_-]+$'"): replayed ids must fit it too.
func validToolUseID(id string) bool {
	if id == "" {
		return false
	}
	for _, r := range id {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (r < '0' || r > '9') && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

// anthropicError is the error body of api.anthropic.com.
func anthropicError(message string) *Rejection {
	raw, _ := json.Marshal(map[string]any{ //nolint:errchkjson // strings always encode
		"type":       "error",
		"error":      map[string]any{"type": "invalid_request_error", "message": message},
		"request_id": "req_fake",
	})
	return &Rejection{Status: http.StatusBadRequest, Message: message, Body: string(raw)}
}

// anthropicMessage is a Message object answering with text and calls; turn numbers the
// tool_use ids.
func anthropicMessage(turn int, text string, calls []Call) map[string]any {
	content := []any{}
	if text != "" {
		content = append(content, map[string]any{"type": "text", "text": text})
	}
	for i, c := range calls {
		content = append(content, map[string]any{
			"type": "tool_use", "id": fmt.Sprintf("toolu_%d_%d", turn, i), "name": c.Name, "input": argsObject(c.Args),
		})
	}
	stop := "end_turn"
	if len(calls) > 0 {
		stop = "tool_use"
	}
	return map[string]any{
		"id": fmt.Sprintf("msg_%d", turn), "type": "message", "role": "assistant", "model": "claude-fake",
		"content": content, "stop_reason": stop, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 10, "output_tokens": 5},
	}
}
