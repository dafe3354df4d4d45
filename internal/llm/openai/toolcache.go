package openai

import (
	"encoding/json"
	"fmt"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"

	"github.com/kubeask/kubeask/internal/llm"
)

// encodeTool converts t and encodes it once, for the client's llm.ToolCache: the
// result is a param.Override holding the JSON, which the SDK copies into each request
// instead of encoding the schema's map again. Nothing may write to those bytes.
func encodeTool(t llm.Tool) (sdk.ChatCompletionToolUnionParam, error) {
	tool, err := toTool(t)
	if err != nil {
		return tool, err
	}
	raw, err := json.Marshal(tool)
	if err != nil {
		return tool, fmt.Errorf("encoding tool %s: %w", t.Name, err)
	}
	return param.Override[sdk.ChatCompletionToolUnionParam](json.RawMessage(raw)), nil
}
