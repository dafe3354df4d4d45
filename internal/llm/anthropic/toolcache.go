package anthropic

import (
	"encoding/json"
	"fmt"
	"sync"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/param"

	"github.com/kubeask/kubeask/internal/llm"
)

// toolCache keeps the request JSON of each declared tool. Every model call declares
// the same tools again, and decoding each schema into the SDK's maps and encoding them
// back was most of what a call allocated: with hundreds of queries running, that is
// the operator's memory peak. Encoding once also makes the tools go out byte for byte
// the same on every call; the SDK writes a schema's extra keywords in map order.
//
// A cached tool is a param.Override holding the JSON, which the SDK only copies out
// when it encodes the request; nothing may write to those bytes. Its OfTool is nil, so
// the converter sets no per-request field on a tool (there is none today). One that
// needs such a field, for example cache_control on the last tool, must build that
// tool afresh with toTool rather than touch the cached one.
type toolCache struct {
	mu sync.Mutex
	m  map[string]cachedTool
}

type cachedTool struct {
	description, parameters string
	param                   sdk.ToolUnionParam
}

// maxCachedTools bounds the cache; the catalog's tool set is far smaller.
const maxCachedTools = 512

// get returns t as a Messages API tool, encoded once per name, description and schema.
func (c *toolCache) get(t llm.Tool) (sdk.ToolUnionParam, error) {
	c.mu.Lock()
	e, ok := c.m[t.Name]
	c.mu.Unlock()
	if ok && e.description == t.Description && e.parameters == string(t.Parameters) {
		return e.param, nil
	}
	tool, err := toTool(t)
	if err != nil {
		return tool, err
	}
	raw, err := json.Marshal(tool)
	if err != nil {
		return tool, fmt.Errorf("encoding tool %s: %w", t.Name, err)
	}
	e = cachedTool{description: t.Description, parameters: string(t.Parameters),
		param: param.Override[sdk.ToolUnionParam](json.RawMessage(raw))}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Concurrent first calls each encode the tool, in their own keyword order: they
	// all send the encoding stored first.
	if prev, ok := c.m[t.Name]; ok && prev.description == e.description && prev.parameters == e.parameters {
		return prev.param, nil
	}
	if c.m == nil || len(c.m) >= maxCachedTools {
		c.m = map[string]cachedTool{}
	}
	c.m[t.Name] = e
	return e.param, nil
}
