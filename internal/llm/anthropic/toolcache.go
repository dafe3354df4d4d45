package anthropic

import (
	"encoding/json"
	"fmt"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"

	"github.com/kubeask/kubeask/internal/llm"
)

// encodeTool converts t and encodes it once, for the client's llm.ToolCache. Encoding
// once also makes the tools go out byte for byte the same on every call; the SDK writes
// a schema's extra keywords in map order.
//
// The result is a param.Override holding the JSON, which the SDK only copies out when
// it encodes the request; nothing may write to those bytes. Its OfTool is nil, so the
// converter sets no per-request field on a tool (there is none today). One that needs
// such a field, for example cache_control on the last tool, must build that tool
// afresh with toTool rather than touch the cached one.
func encodeTool(t llm.Tool) (sdk.ToolUnionParam, error) {
	tool, err := toTool(t)
	if err != nil {
		return tool, err
	}
	raw, err := json.Marshal(tool)
	if err != nil {
		return tool, fmt.Errorf("encoding tool %s: %w", t.Name, err)
	}
	return param.Override[sdk.ToolUnionParam](json.RawMessage(raw)), nil
}
