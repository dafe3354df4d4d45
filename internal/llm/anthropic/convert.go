package anthropic

import (
	"encoding/json"
	"fmt"
	"strings"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/kubeask/kubeask/internal/llm"
)

// params converts a neutral request to Messages API parameters.
func (c *Client) params(req llm.Request) (sdk.MessageNewParams, error) {
	p := sdk.MessageNewParams{Model: c.model, MaxTokens: int64(c.maxTokens)}
	if req.MaxTokens > 0 {
		p.MaxTokens = int64(req.MaxTokens)
	}
	if req.System != "" {
		p.System = []sdk.TextBlockParam{{Text: req.System}}
	}
	for i, m := range req.Messages {
		role, blocks, err := toBlocks(m)
		if err != nil {
			return p, badRequest(fmt.Errorf("message %d: %w", i, err))
		}
		if len(blocks) == 0 {
			continue
		}
		// Tool results travel in a user message, and the API wants the roles to
		// alternate, so consecutive user-side messages (results, then a new question)
		// become one message with all their blocks in order.
		if n := len(p.Messages); n > 0 && sameRole(p.Messages[n-1], role) {
			appendBlocks(&p.Messages[n-1], blocks)
			continue
		}
		if role == llm.RoleAssistant {
			p.Messages = append(p.Messages, sdk.NewAssistantMessage(blocks...))
		} else {
			p.Messages = append(p.Messages, sdk.NewUserMessage(blocks...))
		}
	}
	for _, t := range req.Tools {
		tool, err := c.tools.Get(t, encodeTool)
		if err != nil {
			return p, badRequest(err)
		}
		p.Tools = append(p.Tools, tool)
	}
	if req.ForbidToolCalls && len(p.Tools) > 0 {
		p.ToolChoice = sdk.ToolChoiceUnionParam{OfNone: &sdk.ToolChoiceNoneParam{}}
	}
	return p, nil
}

func badRequest(err error) *llm.Error {
	return &llm.Error{Kind: llm.KindBadRequest, Provider: Provider, Message: err.Error(), Err: err}
}

// toBlocks returns the Anthropic role (user or assistant) and content blocks of m.
func toBlocks(m llm.Message) (llm.Role, []sdk.ContentBlockParamUnion, error) {
	var blocks []sdk.ContentBlockParamUnion
	switch m.Role {
	case llm.RoleUser:
		if m.Text != "" { // the API rejects empty text blocks
			blocks = append(blocks, sdk.NewTextBlock(m.Text))
		}
		return llm.RoleUser, blocks, nil
	case llm.RoleAssistant:
		if m.Text != "" {
			blocks = append(blocks, sdk.NewTextBlock(m.Text))
		}
		for _, call := range m.ToolCalls {
			blocks = append(blocks, sdk.NewToolUseBlock(call.ID, call.ArgumentsObject(), call.Name))
		}
		return llm.RoleAssistant, blocks, nil
	case llm.RoleTool:
		for _, r := range m.ToolResults {
			if r.CallID == "" {
				return "", nil, fmt.Errorf("tool result for %q has no call id", r.Name)
			}
			blocks = append(blocks, sdk.NewToolResultBlock(r.CallID, r.Content, r.IsError))
		}
		return llm.RoleUser, blocks, nil
	default:
		return "", nil, fmt.Errorf("unknown role %q", m.Role)
	}
}

func sameRole(m sdk.MessageParam, role llm.Role) bool {
	if role == llm.RoleAssistant {
		return m.OfAssistant != nil
	}
	return m.OfUser != nil
}

func appendBlocks(m *sdk.MessageParam, blocks []sdk.ContentBlockParamUnion) {
	if m.OfAssistant != nil {
		m.OfAssistant.Content = append(m.OfAssistant.Content, blocks...)
		return
	}
	m.OfUser.Content = append(m.OfUser.Content, blocks...)
}

// toTool maps a JSON schema onto the SDK's input schema, which names properties and
// required and carries every other keyword as an extra field.
func toTool(t llm.Tool) (sdk.ToolUnionParam, error) {
	schema := sdk.ToolInputSchemaParam{Properties: map[string]any{}}
	if len(t.Parameters) > 0 {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(t.Parameters, &fields); err != nil {
			return sdk.ToolUnionParam{}, fmt.Errorf("tool %s: parameters are not a JSON schema object: %w", t.Name, err)
		}
		for k, v := range fields {
			switch k {
			case "type":
				// Always "object"; the SDK writes it.
			case "properties":
				var props map[string]any
				if err := json.Unmarshal(v, &props); err != nil {
					return sdk.ToolUnionParam{}, fmt.Errorf("tool %s: properties: %w", t.Name, err)
				}
				schema.Properties = props
			case "required":
				if err := json.Unmarshal(v, &schema.Required); err != nil {
					return sdk.ToolUnionParam{}, fmt.Errorf("tool %s: required: %w", t.Name, err)
				}
			default:
				if schema.ExtraFields == nil {
					schema.ExtraFields = map[string]any{}
				}
				schema.ExtraFields[k] = v
			}
		}
	}
	tool := sdk.ToolParam{Name: t.Name, InputSchema: schema}
	if t.Description != "" {
		tool.Description = sdk.String(t.Description)
	}
	return sdk.ToolUnionParam{OfTool: &tool}, nil
}

// fromMessage converts the reply. Thinking and server-tool blocks are not ours and are
// dropped.
func fromMessage(msg *sdk.Message) *llm.Response {
	resp := &llm.Response{
		Message:       llm.Message{Role: llm.RoleAssistant},
		RawStopReason: string(msg.StopReason),
		Usage:         llm.Usage{InputTokens: msg.Usage.InputTokens, OutputTokens: msg.Usage.OutputTokens},
		Model:         msg.Model,
	}
	var text strings.Builder
	for _, block := range msg.Content {
		switch block.Type {
		case "text":
			text.WriteString(block.Text)
		case "tool_use":
			resp.Message.ToolCalls = append(resp.Message.ToolCalls,
				llm.NewToolCall(block.ID, block.Name, block.Input))
		}
	}
	resp.Message.Text = text.String()
	resp.StopReason = stopReason(msg.StopReason, len(resp.Message.ToolCalls) > 0)
	return resp
}

func stopReason(r sdk.StopReason, hasToolCalls bool) llm.StopReason {
	if hasToolCalls {
		return llm.StopToolUse
	}
	switch r {
	case sdk.StopReasonEndTurn, sdk.StopReasonStopSequence:
		return llm.StopEndTurn
	case sdk.StopReasonToolUse:
		return llm.StopToolUse
	case sdk.StopReasonMaxTokens, sdk.StopReasonModelContextWindowExceeded:
		return llm.StopMaxTokens
	case sdk.StopReasonRefusal:
		return llm.StopContentFiltered
	default:
		return llm.StopOther
	}
}
