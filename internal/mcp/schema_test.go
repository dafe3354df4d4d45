package mcp_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var update = flag.Bool("update", false, "rewrite the schema snapshots in testdata/schemas")

// TestAgentToolSchemas fails when a tool the endpoint adds to the registry's drifts
// from its snapshot, as internal/tools does for the registry's own: the schemas are a
// contract with every MCP client. Run `go test ./internal/mcp -run TestAgentToolSchemas
// -update` after an intended change.
func TestAgentToolSchemas(t *testing.T) {
	f := env(t)
	res, err := connect(t, f.endpoint, aliceToken, nil).ListTools(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*mcp.Tool{}
	for _, tool := range res.Tools {
		byName[tool.Name] = tool
	}
	dir := filepath.Join("testdata", "schemas")
	for _, name := range []string{"ask", "sessions_list", "triggers_list"} {
		tool := byName[name]
		if tool == nil {
			t.Errorf("%s is not listed", name)
			continue
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // descriptions hold <placeholders>
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{
			"name": tool.Name, "title": tool.Title, "description": tool.Description, "annotations": tool.Annotations,
			"inputSchema": tool.InputSchema, "outputSchema": tool.OutputSchema,
		}); err != nil {
			t.Fatal(err)
		}
		got := buf.Bytes()
		path := filepath.Join(dir, name+".json")
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		snap, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no snapshot (run with -update): %v", name, err)
			continue
		}
		if !bytes.Equal(snap, got) {
			t.Errorf("%s: schema drifted from %s:\n%s", name, path, got)
		}
	}
}
