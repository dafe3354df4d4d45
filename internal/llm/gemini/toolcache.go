package gemini

import (
	"sync"

	"google.golang.org/genai"

	"github.com/kubeask/kubeask/internal/llm"
)

// declCache keeps the function declaration of each declared tool. Every model call
// declares the same tools again, and decoding each schema into a map (which genai then
// walks to encode it) was most of what a call allocated: with hundreds of queries
// running, that is the operator's memory peak.
//
// genai cannot send pre-encoded JSON: it encodes the whole request, decodes it into
// maps for its converters and encodes those. A cached declaration carries its schema
// as json.RawMessage, which that first encoding copies instead of walking a map. genai
// only reads declarations (json.Marshal in InternalDeepMarshal) and convert only puts
// the pointers into a fresh genai.Tool, so one declaration is shared by concurrent
// requests and must never be written to.
type declCache struct {
	mu sync.Mutex
	m  map[string]cachedDecl
}

type cachedDecl struct {
	description, parameters string
	decl                    *genai.FunctionDeclaration
}

// maxCachedDecls bounds the cache; the catalog's tool set is far smaller.
const maxCachedDecls = 512

// get returns t as a function declaration, built once per name, description and
// schema.
func (c *declCache) get(t llm.Tool) (*genai.FunctionDeclaration, error) {
	c.mu.Lock()
	e, ok := c.m[t.Name]
	c.mu.Unlock()
	if ok && e.description == t.Description && e.parameters == string(t.Parameters) {
		return e.decl, nil
	}
	decl, err := toDeclaration(t)
	if err != nil {
		return nil, err
	}
	e = cachedDecl{description: t.Description, parameters: string(t.Parameters), decl: decl}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Concurrent first calls each build the declaration: they all share the one
	// stored first.
	if prev, ok := c.m[t.Name]; ok && prev.description == e.description && prev.parameters == e.parameters {
		return prev.decl, nil
	}
	if c.m == nil || len(c.m) >= maxCachedDecls {
		c.m = map[string]cachedDecl{}
	}
	c.m[t.Name] = e
	return decl, nil
}
