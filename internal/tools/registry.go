package tools

import (
	"fmt"
	"slices"
	"strings"
)

// Registry is an ordered set of tools with unique names.
type Registry struct {
	tools []Tool
}

// NewRegistry checks the tools and returns a registry.
func NewRegistry(tools ...Tool) (*Registry, error) {
	seen := map[string]bool{}
	for _, t := range tools {
		if t.Name == "" || strings.ContainsAny(t.Name, " .") || t.run == nil {
			return nil, fmt.Errorf("tool %q is malformed", t.Name)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("tool %q is defined twice", t.Name)
		}
		seen[t.Name] = true
	}
	return &Registry{tools: slices.Clone(tools)}, nil
}

// Get returns the tool named name.
func (r *Registry) Get(name string) (Tool, bool) {
	i := slices.IndexFunc(r.tools, func(t Tool) bool { return t.Name == name })
	if i < 0 {
		return Tool{}, false
	}
	return r.tools[i], true
}

// List returns the tools in registration order.
func (r *Registry) List() []Tool {
	return slices.Clone(r.tools)
}

// Filter returns a registry with the tools keep accepts.
func (r *Registry) Filter(keep func(Tool) bool) *Registry {
	out := &Registry{}
	for _, t := range r.tools {
		if keep(t) {
			out.tools = append(out.tools, t)
		}
	}
	return out
}

// Names returns the tool names.
func (r *Registry) Names() []string {
	names := make([]string, len(r.tools))
	for i, t := range r.tools {
		names[i] = t.Name
	}
	return names
}
