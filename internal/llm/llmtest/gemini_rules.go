package llmtest

import (
	"encoding/json"
	"net/http"
	"slices"
)

// The Gemini API rules, checked on every generateContent request a fake Gemini server
// receives (NewScripted with Gemini). Sources:
//
//   - Function calling, https://ai.google.dev/gemini-api/docs/function-calling: the
//     application answers the model's function call turn with a user turn of
//     functionResponse parts, one per functionCall part (parallel calls included).
//   - generateContent reference, https://ai.google.dev/api/generate-content, and the
//     Content, FunctionCall and FunctionResponse types
//     (https://ai.google.dev/api/caching#Content): a content's role is "user" or
//     "model"; FunctionResponse.name "Matches [FunctionDeclaration.name] and
//     [FunctionCall.name]"; FunctionResponse.id is "The id of the function call this
//     response is for. Populated by the client to match the corresponding function
//     call id."
//
// The messages are the ones the Gemini API answers with (status 400, INVALID_ARGUMENT),
// except for names and ids: the API's words for those are not documented, so the fake
// states the documented rule.
func checkGeminiContents(body []byte) *Rejection {
	var req struct {
		Contents []struct {
			Role  string `json:"role"`
			Parts []struct {
				FunctionCall     *geminiFunction `json:"functionCall"`
				FunctionResponse *geminiFunction `json:"functionResponse"`
			} `json:"parts"`
		} `json:"contents"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return geminiError("Invalid JSON payload received. " + err.Error())
	}
	if len(req.Contents) == 0 {
		return geminiError("* GenerateContentRequest.contents: contents is not specified\n")
	}
	// calls and responses are the functionCall and functionResponse parts of each content.
	calls := make([][]geminiFunction, len(req.Contents))
	responses := make([][]geminiFunction, len(req.Contents))
	for i, c := range req.Contents {
		for _, p := range c.Parts {
			if p.FunctionCall != nil {
				calls[i] = append(calls[i], *p.FunctionCall)
			}
			if p.FunctionResponse != nil {
				responses[i] = append(responses[i], *p.FunctionResponse)
			}
		}
	}
	for i, c := range req.Contents {
		switch {
		case c.Role != "user" && c.Role != "model":
			return geminiError("Please use a valid role: user, model.")
		case i > 0 && c.Role == req.Contents[i-1].Role:
			return geminiError("Please ensure that multiturn requests alternate between user and model.")
		case len(calls[i]) > 0 && (c.Role != "model" || i == 0):
			return geminiError("Please ensure that function call turn comes immediately after a user turn or after a function response turn.")
		case len(responses[i]) > 0 && (c.Role != "user" || i == 0 || len(calls[i-1]) == 0):
			return geminiError("Please ensure that function response turn comes immediately after a function call turn.")
		}
		if len(calls[i]) == 0 {
			continue
		}
		// A function call turn is answered by the very next content, in full. One at the
		// end of the request has no answer at all.
		var answer []geminiFunction
		if i+1 < len(req.Contents) {
			answer = responses[i+1]
		}
		if len(answer) != len(calls[i]) {
			return geminiError("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.")
		}
		if rej := geminiPairs(calls[i], answer); rej != nil {
			return rej
		}
	}
	return nil
}

// geminiFunction is what the rules look at in a functionCall or functionResponse part.
type geminiFunction struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// geminiPairs checks that responses answer calls: the same names, as many times each,
// and the ids the calls carry (a call without an id is matched by name, so its response
// carries none either).
func geminiPairs(calls, responses []geminiFunction) *Rejection {
	sorted := func(fs []geminiFunction, field func(geminiFunction) string) []string {
		var out []string
		for _, f := range fs {
			if v := field(f); v != "" {
				out = append(out, v)
			}
		}
		slices.Sort(out)
		return out
	}
	name := func(f geminiFunction) string { return f.Name }
	id := func(f geminiFunction) string { return f.ID }
	if !slices.Equal(sorted(calls, name), sorted(responses, name)) {
		return geminiError("Please ensure that the name of each function response part matches the name of a function call part of the function call turn.")
	}
	if !slices.Equal(sorted(calls, id), sorted(responses, id)) {
		return geminiError("Please ensure that the id of each function response part matches the id of a function call part of the function call turn.")
	}
	return nil
}

// geminiError is the error body of the Gemini API (google.rpc.Status in JSON).
func geminiError(message string) *Rejection {
	raw, _ := json.Marshal(map[string]any{"error": map[string]any{ //nolint:errchkjson // strings and ints always encode
		"code": http.StatusBadRequest, "message": message, "status": "INVALID_ARGUMENT",
	}})
	return &Rejection{Status: http.StatusBadRequest, Message: message, Body: string(raw)}
}

// geminiResponse is a GenerateContentResponse answering with text and calls. Its calls
// carry no id, as the Gemini API's do.
func geminiResponse(text string, calls []Call) map[string]any {
	parts := []any{}
	if text != "" {
		parts = append(parts, map[string]any{"text": text})
	}
	for _, c := range calls {
		parts = append(parts, map[string]any{"functionCall": map[string]any{"name": c.Name, "args": argsObject(c.Args)}})
	}
	return map[string]any{
		"candidates": []any{map[string]any{
			"content": map[string]any{"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0,
		}},
		"usageMetadata": map[string]any{"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
		"modelVersion":  "gemini-fake",
	}
}
