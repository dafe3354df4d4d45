package stdio

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestWithContextArgument(t *testing.T) {
	contexts := []string{"prod", "staging"}
	cases := []struct {
		name    string
		schema  any
		missing []string
		// props are the properties the served schema must have; err what refuses it.
		props []string
		note  bool
		err   string
	}{
		{name: "arguments kept, context added", schema: map[string]any{"type": "object", "properties": map[string]any{"namespace": map[string]any{"type": "string"}}, "required": []any{"namespace"}},
			props: []string{"context", "namespace"}},
		{name: "no properties", schema: map[string]any{"type": "object"}, props: []string{"context"}},
		{name: "missing somewhere", schema: map[string]any{"type": "object"}, missing: []string{"staging"}, props: []string{"context"}, note: true},
		{name: "a context argument already", schema: map[string]any{"type": "object", "properties": map[string]any{"context": map[string]any{"type": "string"}}}, err: "already has an argument"},
		{name: "not an object", schema: map[string]any{"type": "string"}, err: "not of type object"},
		{name: "properties not an object", schema: map[string]any{"type": "object", "properties": []any{}}, err: "properties are not an object"},
		{name: "not JSON", schema: []int{1}, err: "not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &mcp.Tool{Name: "resources_list", Description: "List.", InputSchema: tc.schema}
			got, err := withContextArgument(in, contexts, "prod", tc.missing)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got.InputSchema)
			var s struct {
				Properties map[string]json.RawMessage `json:"properties"`
				Required   []string                   `json:"required"`
			}
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			var names []string
			for n := range s.Properties {
				names = append(names, n)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.props) || slices.Contains(s.Required, "context") {
				t.Errorf("schema %s, want properties %v and context optional", b, tc.props)
			}
			if want := `{"default":"prod","description":"The kubeconfig context (cluster) to run in; default \"prod\".","enum":["prod","staging"],"type":"string"}`; string(s.Properties["context"]) != want {
				t.Errorf("context property %s, want %s", s.Properties["context"], want)
			}
			if hasNote := strings.Contains(got.Description, "Not available in context(s) staging"); hasNote != tc.note || !strings.HasPrefix(got.Description, "List.") {
				t.Errorf("description %q", got.Description)
			}
			// The endpoint's own definition is left as it was.
			if b, _ := json.Marshal(in.InputSchema); strings.Contains(string(b), `"enum"`) {
				t.Errorf("the endpoint's schema was changed: %s", b)
			}
		})
	}
}

func TestUnionTools(t *testing.T) {
	tool := func(name, desc string) *mcp.Tool { return &mcp.Tool{Name: name, Description: desc} }
	snaps := []snapshot{
		{context: "prod", tools: map[string]*mcp.Tool{"list": tool("list", "prod's"), "get": tool("get", "")}},
		{context: "down"}, // never reached: neither has nor lacks anything
		{context: "staging", tools: map[string]*mcp.Tool{"list": tool("list", "staging's"), "new": tool("new", "")}},
	}
	got := unionTools(snaps)
	var lines []string
	for _, e := range got {
		lines = append(lines, e.tool.Name+" "+e.tool.Description+" missing:"+strings.Join(e.missing, ","))
	}
	want := []string{"get  missing:staging", "list prod's missing:", "new  missing:prod"}
	if !slices.Equal(lines, want) {
		t.Errorf("union:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
