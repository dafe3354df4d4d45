package openai

import (
	"encoding/json"
	"fmt"
	"sync"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"

	"github.com/kubeask/kubeask/internal/llm"
)

// toolCache keeps the request JSON of each declared tool. Every model call declares
// the same tools again, and decoding each schema into the SDK's map and encoding it
// back was most of what a call allocated: with hundreds of queries running, that is
// the operator's memory peak.
type toolCache struct {
	mu sync.Mutex
	m  map[string]cachedTool
}

type cachedTool struct {
	description, parameters string
	param                   sdk.ChatCompletionToolUnionParam
}

// maxCachedTools bounds the cache; the catalog's tool set is far smaller.
const maxCachedTools = 512

// get returns t as a chat completion tool, encoded once per name, description and
// schema.
func (c *toolCache) get(t llm.Tool) (sdk.ChatCompletionToolUnionParam, error) {
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
		param: param.Override[sdk.ChatCompletionToolUnionParam](json.RawMessage(raw))}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedTools {
		c.m = map[string]cachedTool{}
	}
	c.m[t.Name] = e
	c.mu.Unlock()
	return e.param, nil
}
