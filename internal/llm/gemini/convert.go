package gemini

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"google.golang.org/genai"

	"github.com/kubeask/kubeask/internal/llm"
)

// Gemini roles; a function response is sent by the user side.
const (
	roleUser  = "user"
	roleModel = "model"
)

// syntheticIDPrefix marks call ids we made up because the model gave none (older
// models do not). They are stripped when the call and its result are replayed, so
// Gemini matches them by name as it did when it produced them.
const syntheticIDPrefix = "kubeask-gemini-"

// convert builds the contents and config of a generateContent request.
func (c *Client) convert(req llm.Request) ([]*genai.Content, *genai.GenerateContentConfig, error) {
	config := &genai.GenerateContentConfig{}
	if req.System != "" {
		config.SystemInstruction = &genai.Content{Parts: []*genai.Part{{Text: req.System}}}
	}
	maxTokens := req.MaxTokens
	if maxTokens == 0 {
		maxTokens = c.maxTokens
	}
	if maxTokens > 0 {
		config.MaxOutputTokens = int32(min(maxTokens, 1<<30))
	}
	if len(req.Tools) > 0 {
		tool := &genai.Tool{}
		for _, t := range req.Tools {
			decl, err := c.decls.Get(t, toDeclaration)
			if err != nil {
				return nil, nil, badRequest(err)
			}
			tool.FunctionDeclarations = append(tool.FunctionDeclarations, decl)
		}
		config.Tools = []*genai.Tool{tool}
		if req.ForbidToolCalls {
			config.ToolConfig = &genai.ToolConfig{FunctionCallingConfig: &genai.FunctionCallingConfig{Mode: genai.FunctionCallingConfigModeNone}}
		}
	}
	var contents []*genai.Content
	for i, m := range req.Messages {
		content, err := toContent(m)
		if err != nil {
			return nil, nil, badRequest(fmt.Errorf("message %d: %w", i, err))
		}
		if len(content.Parts) == 0 {
			continue
		}
		// Function responses come from the user side, so results followed by a new
		// question are one user turn, as Gemini wants turns to alternate.
		if n := len(contents); n > 0 && contents[n-1].Role == content.Role {
			contents[n-1].Parts = append(contents[n-1].Parts, content.Parts...)
			continue
		}
		contents = append(contents, content)
	}
	return contents, config, nil
}

func badRequest(err error) *llm.Error {
	return &llm.Error{Kind: llm.KindBadRequest, Provider: Provider, Message: err.Error(), Err: err}
}

// toDeclaration builds the declaration of t, once per tool (the client's llm.ToolCache
// keeps it). genai cannot send pre-encoded JSON: it encodes the whole request, decodes
// it into maps for its converters and encodes those; a schema kept as json.RawMessage
// is copied by that first encoding instead of walked as a map.
func toDeclaration(t llm.Tool) (*genai.FunctionDeclaration, error) {
	decl := &genai.FunctionDeclaration{Name: t.Name, Description: t.Description}
	if len(t.Parameters) > 0 {
		// parametersJsonSchema takes a plain JSON schema, unlike parameters, which is
		// Google's OpenAPI subset. It goes out as the JSON we were given (a copy, so
		// the declaration owns it), once checked to be an object.
		var schema map[string]json.RawMessage
		if err := json.Unmarshal(t.Parameters, &schema); err != nil {
			return nil, fmt.Errorf("tool %s: parameters are not a JSON schema object: %w", t.Name, err)
		}
		decl.ParametersJsonSchema = json.RawMessage(append([]byte(nil), t.Parameters...))
	}
	return decl, nil
}

func toContent(m llm.Message) (*genai.Content, error) {
	switch m.Role {
	case llm.RoleUser:
		c := &genai.Content{Role: roleUser}
		if m.Text != "" {
			c.Parts = append(c.Parts, &genai.Part{Text: m.Text})
		}
		return c, nil
	case llm.RoleAssistant:
		c := &genai.Content{Role: roleModel}
		if m.Text != "" {
			c.Parts = append(c.Parts, &genai.Part{Text: m.Text})
		}
		for i, call := range m.ToolCalls {
			c.Parts = append(c.Parts, &genai.Part{
				FunctionCall: &genai.FunctionCall{
					ID:   realID(call.ID),
					Name: call.Name,
					Args: call.ArgumentsObject(),
				},
				// Gemini 3 rejects a replayed function call without its signature.
				ThoughtSignature: replaySignature(i, call.Opaque),
			})
		}
		return c, nil
	case llm.RoleTool:
		c := &genai.Content{Role: roleUser}
		for _, r := range m.ToolResults {
			if r.Name == "" {
				return nil, fmt.Errorf("tool result %q has no tool name, which Gemini needs", r.CallID)
			}
			// Gemini's convention: "output" for results, "error" for failures.
			key := "output"
			if r.IsError {
				key = "error"
			}
			c.Parts = append(c.Parts, &genai.Part{FunctionResponse: &genai.FunctionResponse{
				ID:       realID(r.CallID),
				Name:     r.Name,
				Response: map[string]any{key: r.Content},
			}})
		}
		return c, nil
	default:
		return nil, fmt.Errorf("unknown role %q", m.Role)
	}
}

// skipSignature stands in for a thought signature we no longer have: the agent rebuilds
// the conversation from the AgentQuery status when a query resumes (after an approval,
// or an operator restart), and the status does not keep signatures. Gemini 3 answers a
// replayed functionCall without one with a 400. Google's thought signatures FAQ
// (https://ai.google.dev/gemini-api/docs/thought-signatures#faqs) allows, for "function
// call parts that were not generated by the API and therefore don't have an associated
// thought signature", the dummy signatures "context_engineering_is_the_way_to_go" or
// "skip_thought_signature_validator" "to skip validation". genai base64-encodes it on
// the wire like any signature.
const skipSignature = "skip_thought_signature_validator"

// replaySignature is the thought signature of the i-th functionCall part of an
// assistant message, which is one model step. The same page says a response with parallel calls signs only the first
// functionCall part, and the API validates only "the first functionCall part in each
// step" of the current turn: so only an unsigned first call gets the dummy, and later
// ones are sent as received.
func replaySignature(i int, opaque []byte) []byte {
	if i == 0 && len(opaque) == 0 {
		return []byte(skipSignature)
	}
	return opaque
}

func realID(id string) string {
	if strings.HasPrefix(id, syntheticIDPrefix) {
		return ""
	}
	return id
}

// fromResponse converts the first candidate.
func fromResponse(resp *genai.GenerateContentResponse) *llm.Response {
	out := &llm.Response{Message: llm.Message{Role: llm.RoleAssistant}, Model: resp.ModelVersion}
	if u := resp.UsageMetadata; u != nil {
		// Thinking tokens are billed as output.
		out.Usage = llm.Usage{
			InputTokens:  int64(u.PromptTokenCount),
			OutputTokens: int64(u.CandidatesTokenCount) + int64(u.ThoughtsTokenCount),
		}
	}
	if len(resp.Candidates) == 0 {
		// The prompt itself was blocked.
		out.StopReason = llm.StopContentFiltered
		if pf := resp.PromptFeedback; pf != nil {
			out.RawStopReason = string(pf.BlockReason)
			out.StopMessage = pf.BlockReasonMessage
		}
		return out
	}
	cand := resp.Candidates[0]
	out.RawStopReason = string(cand.FinishReason)
	out.StopMessage = cand.FinishMessage
	var text strings.Builder
	if cand.Content != nil {
		for i, part := range cand.Content.Parts {
			switch {
			case part.FunctionCall != nil:
				out.Message.ToolCalls = append(out.Message.ToolCalls, toToolCall(i, part))
			case part.Thought:
				// Thought summaries are not the answer.
			case part.Text != "":
				text.WriteString(part.Text)
			}
		}
	}
	out.Message.Text = text.String()
	out.StopReason = stopReason(cand.FinishReason, len(out.Message.ToolCalls) > 0)
	if out.StopReason == llm.StopMalformedToolCall && out.StopMessage == "" {
		// genai drops the Gemini API's finishMessage; the agent still needs words for
		// the model.
		out.StopMessage = "your last function call could not be parsed; call the function again with valid arguments"
	}
	return out
}

func toToolCall(i int, part *genai.Part) llm.ToolCall {
	fc := part.FunctionCall
	id := fc.ID
	if id == "" {
		// Unique across the conversation, since the agent keys its steps by call id.
		id = syntheticIDPrefix + strconv.Itoa(i) + "-" + strconv.FormatUint(rand.Uint64(), 36) //nolint:gosec // G404: a call id only needs to be unique in one conversation, not unpredictable
	}
	args := []byte("{}")
	if fc.Args != nil {
		// Args came out of JSON, so it marshals back; {} covers the impossible case.
		if raw, err := json.Marshal(fc.Args); err == nil {
			args = raw
		}
	}
	call := llm.NewToolCall(id, fc.Name, args)
	call.Opaque = part.ThoughtSignature
	return call
}

func stopReason(r genai.FinishReason, hasToolCalls bool) llm.StopReason {
	if hasToolCalls {
		return llm.StopToolUse
	}
	switch r {
	case genai.FinishReasonStop:
		return llm.StopEndTurn
	case genai.FinishReasonMaxTokens:
		return llm.StopMaxTokens
	case genai.FinishReasonSafety, genai.FinishReasonRecitation, genai.FinishReasonBlocklist,
		genai.FinishReasonProhibitedContent, genai.FinishReasonSPII, genai.FinishReasonImageSafety:
		return llm.StopContentFiltered
	case genai.FinishReasonMalformedFunctionCall, genai.FinishReasonUnexpectedToolCall:
		return llm.StopMalformedToolCall
	default:
		return llm.StopOther
	}
}
