package openai

import (
	"encoding/json"
	"fmt"
	"strconv"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/kubeask/kubeask/internal/llm"
)

// params converts a neutral request to chat completion parameters.
func (c *Client) params(req llm.Request) (sdk.ChatCompletionNewParams, error) {
	p := sdk.ChatCompletionNewParams{Model: c.model}
	if req.System != "" {
		p.Messages = append(p.Messages, sdk.SystemMessage(req.System))
	}
	for i, m := range req.Messages {
		msgs, err := toMessages(m)
		if err != nil {
			return p, badRequest(fmt.Errorf("message %d: %w", i, err))
		}
		p.Messages = append(p.Messages, msgs...)
	}
	for _, t := range req.Tools {
		tool, err := c.tools.Get(t, encodeTool)
		if err != nil {
			return p, badRequest(err)
		}
		p.Tools = append(p.Tools, tool)
	}
	if req.ForbidToolCalls && len(p.Tools) > 0 {
		// OpenAI refuses tool_choice in a request without tools.
		p.ToolChoice = sdk.ChatCompletionToolChoiceOptionUnionParam{OfAuto: sdk.String("none")}
	}
	maxTokens := req.MaxTokens
	if maxTokens == 0 {
		maxTokens = c.maxTokens
	}
	if maxTokens > 0 {
		if c.legacyMaxTokens {
			p.MaxTokens = sdk.Int(int64(maxTokens))
		} else {
			p.MaxCompletionTokens = sdk.Int(int64(maxTokens))
		}
	}
	return p, nil
}

// badRequest reports a request we cannot even encode; it is the caller's bug or bad
// tool data, never worth a retry.
func badRequest(err error) *llm.Error {
	return &llm.Error{Kind: llm.KindBadRequest, Provider: Provider, Message: err.Error(), Err: err}
}

func toMessages(m llm.Message) ([]sdk.ChatCompletionMessageParamUnion, error) {
	switch m.Role {
	case llm.RoleUser:
		return []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage(m.Text)}, nil
	case llm.RoleAssistant:
		var a sdk.ChatCompletionAssistantMessageParam
		if m.Text != "" {
			a.Content.OfString = sdk.String(m.Text)
		}
		for _, call := range m.ToolCalls {
			args := string(call.Arguments)
			if call.ArgumentsError != "" {
				// Strict servers re-parse earlier arguments; the error result that
				// follows tells the model what was wrong with them.
				args = "{}"
			}
			a.ToolCalls = append(a.ToolCalls, sdk.ChatCompletionMessageToolCallUnionParam{
				OfFunction: &sdk.ChatCompletionMessageFunctionToolCallParam{
					ID:       call.ID,
					Function: sdk.ChatCompletionMessageFunctionToolCallFunctionParam{Name: call.Name, Arguments: args},
				},
			})
		}
		return []sdk.ChatCompletionMessageParamUnion{{OfAssistant: &a}}, nil
	case llm.RoleTool:
		out := make([]sdk.ChatCompletionMessageParamUnion, 0, len(m.ToolResults))
		for _, r := range m.ToolResults {
			if r.CallID == "" {
				return nil, fmt.Errorf("tool result for %q has no call id", r.Name)
			}
			content := r.Content
			if r.IsError {
				// Chat completions have no error flag on tool messages.
				content = "Error: " + content
			}
			out = append(out, sdk.ToolMessage(content, r.CallID))
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unknown role %q", m.Role)
	}
}

func toTool(t llm.Tool) (sdk.ChatCompletionToolUnionParam, error) {
	params := shared.FunctionParameters{"type": "object", "properties": map[string]any{}}
	if len(t.Parameters) > 0 {
		params = shared.FunctionParameters{}
		if err := json.Unmarshal(t.Parameters, &params); err != nil {
			return sdk.ChatCompletionToolUnionParam{}, fmt.Errorf("tool %s: parameters are not a JSON schema object: %w", t.Name, err)
		}
	}
	def := shared.FunctionDefinitionParam{Name: t.Name, Parameters: params}
	if t.Description != "" {
		def.Description = sdk.String(t.Description)
	}
	return sdk.ChatCompletionFunctionTool(def), nil
}

// fromCompletion converts the first choice to a neutral response.
func fromCompletion(cc *sdk.ChatCompletion) (*llm.Response, error) {
	if cc == nil || len(cc.Choices) == 0 {
		return nil, &llm.Error{Kind: llm.KindUnknown, Provider: Provider, Message: "the reply has no choices"}
	}
	choice := cc.Choices[0]
	resp := &llm.Response{
		Message:       llm.Message{Role: llm.RoleAssistant, Text: choice.Message.Content},
		RawStopReason: choice.FinishReason,
		Usage:         llm.Usage{InputTokens: cc.Usage.PromptTokens, OutputTokens: cc.Usage.CompletionTokens},
		Model:         cc.Model,
	}
	for i, tc := range choice.Message.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			continue // custom (free-form) tools are never declared by us
		}
		id := tc.ID
		if id == "" {
			// Some local servers omit ids; the tool message must still name one.
			id = "call_" + strconv.Itoa(i)
		}
		resp.Message.ToolCalls = append(resp.Message.ToolCalls,
			llm.NewToolCall(id, tc.Function.Name, []byte(tc.Function.Arguments)))
	}
	resp.StopReason = stopReason(choice.FinishReason, len(resp.Message.ToolCalls) > 0)
	return resp, nil
}

func stopReason(finish string, hasToolCalls bool) llm.StopReason {
	if hasToolCalls {
		// Ollama says "stop" even when it returns tool calls.
		return llm.StopToolUse
	}
	switch finish {
	case "stop":
		return llm.StopEndTurn
	case "tool_calls", "function_call":
		return llm.StopToolUse
	case "length":
		return llm.StopMaxTokens
	case "content_filter":
		return llm.StopContentFiltered
	default:
		return llm.StopOther
	}
}
