package llm

import "sync"

// ToolCache keeps each declared tool converted to a provider's form. Every model call
// declares the same tools again, and converting each schema (decoding it into an SDK's
// maps, which the SDK then encodes) was most of what a call allocated: with hundreds
// of queries running, that is the operator's memory peak.
//
// A converted value is shared by every request that declares the tool, concurrent ones
// included: nothing may modify it. The zero value is ready to use.
type ToolCache[T any] struct {
	mu sync.Mutex
	m  map[string]cachedTool[T]
}

type cachedTool[T any] struct {
	description, parameters string
	value                   T
}

// maxCachedTools bounds a ToolCache; the catalog's tool set is far smaller.
const maxCachedTools = 512

// Get returns t converted by convert, once per name, description and schema. A
// conversion error is returned and not cached. Concurrent first calls may each
// convert; they all return the value stored first, so a tool goes out the same on
// every call even when convert is not deterministic (an SDK writing map keys in
// random order).
func (c *ToolCache[T]) Get(t Tool, convert func(Tool) (T, error)) (T, error) {
	c.mu.Lock()
	e, ok := c.m[t.Name]
	c.mu.Unlock()
	if ok && e.description == t.Description && e.parameters == string(t.Parameters) {
		return e.value, nil
	}
	v, err := convert(t)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[t.Name]; ok && prev.description == t.Description && prev.parameters == string(t.Parameters) {
		return prev.value, nil
	}
	if c.m == nil || len(c.m) >= maxCachedTools {
		c.m = map[string]cachedTool[T]{}
	}
	c.m[t.Name] = cachedTool[T]{description: t.Description, parameters: string(t.Parameters), value: v}
	return v, nil
}
