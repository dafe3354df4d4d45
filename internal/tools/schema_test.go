package tools_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubeask/kubeask/internal/tools"
)

var update = flag.Bool("update", false, "rewrite the schema snapshots in testdata/schemas")

// TestSchemasMatchSnapshots fails when a tool's input schema drifts from its snapshot:
// the schemas are a contract with every model and MCP client. Run
// `go test ./internal/tools -run TestSchemas -update` after an intended change.
func TestSchemasMatchSnapshots(t *testing.T) {
	dir := filepath.Join("testdata", "schemas")
	want := map[string]bool{}
	for _, tool := range tools.Builtin() {
		got, err := json.MarshalIndent(map[string]any{
			"name": tool.Name, "description": tool.Description, "annotations": tool.Annotations, "inputSchema": tool.InputSchema,
		}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		// What the agent declares to models is the same schema, encoded once.
		if encoded, err := json.Marshal(tool.InputSchema); err != nil || !bytes.Equal(encoded, tool.InputSchemaJSON()) {
			t.Errorf("%s: InputSchemaJSON %s differs from InputSchema %s (%v)", tool.Name, tool.InputSchemaJSON(), encoded, err)
		}
		path := filepath.Join(dir, tool.Name+".json")
		want[tool.Name+".json"] = true
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
			t.Errorf("%s: no snapshot (run with -update): %v", tool.Name, err)
			continue
		}
		if !bytes.Equal(snap, got) {
			t.Errorf("%s: schema drifted from %s:\n%s", tool.Name, path, got)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("snapshot %s has no tool", e.Name())
		}
	}
}
