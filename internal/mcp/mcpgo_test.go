package mcp_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	kmcp "github.com/kubeask/kubeask/internal/mcp"
)

// mcpgoClients are the builds of testdata/mcpgo, an MCP client written with
// github.com/mark3labs/mcp-go (kubectl-ai's SDK): with kubectl-ai.mod, the version
// kubectl-ai pins (v0.41.1 in its go.mod), and with go.mod, the latest.
var mcpgoClients = []struct {
	name, modfile string
}{
	{"kubectl-ai's mcp-go v0.41.1", "kubectl-ai.mod"},
	{"latest mcp-go", "go.mod"},
}

var mcpgoBuilds sync.Map // modfile -> func() (string, error)

// mcpgoClient builds the client with modfile once per test binary and returns its path.
func mcpgoClient(t *testing.T, modfile string) string {
	t.Helper()
	build, _ := mcpgoBuilds.LoadOrStore(modfile, sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "kubeask-mcpgo-")
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, "mcpgo")
		cmd := exec.Command("go", "build", "-modfile="+modfile, "-o", bin, ".")
		cmd.Dir = filepath.Join("testdata", "mcpgo")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", &buildError{modfile: modfile, out: string(out), err: err}
		}
		return bin, nil
	}))
	bin, err := build.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

type buildError struct {
	modfile, out string
	err          error
}

func (e *buildError) Error() string {
	return "building testdata/mcpgo with " + e.modfile + ": " + e.err.Error() + "\n" + e.out
}

// mcpgoReport is what the client prints.
type mcpgoReport struct {
	ProtocolVersion string   `json:"protocolVersion"`
	Server          string   `json:"server"`
	Tools           []string `json:"tools"`
	IsError         bool     `json:"isError"`
	Text            string   `json:"text"`
	Structured      any      `json:"structured"`
}

// runMCPGo runs the client; a failure to connect, initialize, list or call is an error
// with the client's stderr.
func runMCPGo(t *testing.T, bin string, args ...string) (*mcpgoReport, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, stderr.String(), err
	}
	var rep mcpgoReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the client printed %q: %v", stdout.String(), err)
	}
	return &rep, stderr.String(), nil
}

// kubectl-ai and other clients of mcp-go connect, over streamable HTTP and SSE, with a
// bearer token: initialize (as kubectl-ai does it, with no protocolVersion, and with the
// SDK's newest), tools/list, and tools/call as the token's user.
func TestMCPGoClients(t *testing.T) {
	f := env(t)
	base := strings.TrimSuffix(f.endpoint, kmcp.PathStreamable)
	endpoints := map[string]string{"http": f.endpoint, "sse": base + kmcp.PathSSE}
	for _, client := range mcpgoClients {
		t.Run(client.name, func(t *testing.T) {
			bin := mcpgoClient(t, client.modfile)
			for _, transport := range []string{"http", "sse"} {
				for _, protocol := range []string{"", "latest"} {
					t.Run(transport+"/protocol="+cmp(protocol, "empty"), func(t *testing.T) {
						rep, stderr, err := runMCPGo(t, bin, "-url", endpoints[transport], "-transport", transport, "-token", aliceToken,
							"-protocol", protocol, "-tool", "resources_list", "-args", `{"resource":"pods","namespace":"team-a"}`)
						if err != nil {
							t.Fatalf("%v: %s", err, stderr)
						}
						if rep.Server != "kubeask" || !slices.Contains(rep.Tools, "resources_list") || !slices.Contains(rep.Tools, "ask") {
							t.Errorf("server %q, tools %v", rep.Server, rep.Tools)
						}
						if rep.IsError || !strings.Contains(rep.Text, "checkout-1") {
							t.Errorf("resources_list as alice: error=%v:\n%s", rep.IsError, rep.Text)
						}
						// kubectl-ai's request names no version: it gets the newest one that
						// its SDK (and other widespread clients) accept.
						if protocol == "" && client.modfile == "kubectl-ai.mod" && rep.ProtocolVersion != kmcp.FallbackProtocolVersion {
							t.Errorf("protocolVersion %q, want %s", rep.ProtocolVersion, kmcp.FallbackProtocolVersion)
						}
					})
				}
				t.Run(transport+"/acts as the caller", func(t *testing.T) {
					rep, stderr, err := runMCPGo(t, bin, "-url", endpoints[transport], "-transport", transport, "-token", bobToken,
						"-tool", "resources_list", "-args", `{"resource":"pods","namespace":"team-a"}`)
					if err != nil {
						t.Fatalf("%v: %s", err, stderr)
					}
					if !rep.IsError || !strings.Contains(rep.Text, "forbidden") || strings.Contains(rep.Text, "checkout-1") {
						t.Errorf("bob listing team-a: want a forbidden tool error, got error=%v:\n%s", rep.IsError, rep.Text)
					}
				})
				t.Run(transport+"/without a token", func(t *testing.T) {
					if _, stderr, err := runMCPGo(t, bin, "-url", endpoints[transport], "-transport", transport); err == nil {
						t.Error("a client without a token connected")
					} else if lower := strings.ToLower(stderr); !strings.Contains(lower, "401") && !strings.Contains(lower, "unauthorized") && !strings.Contains(lower, "authorization required") {
						t.Errorf("the client's error does not say why: %s", stderr)
					}
				})
			}
		})
	}
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
