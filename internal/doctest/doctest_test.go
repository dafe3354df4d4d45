package doctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestShellBlocks(t *testing.T) {
	reasons := map[string]string{"e2e": "a node", "podman": "podman"}
	page := "# t\n\n```sh\nhelm lint x\n```\n\n```yaml\na: 1\n```\n\n```sh e2e\nkubectl rollout status x\n```\n\n```\noutput\n```\n"
	got, err := ShellBlocks(page, reasons)
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{{Line: 3, Text: "helm lint x\n"}, {Line: 11, Tag: "e2e", Text: "kubectl rollout status x\n"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("blocks %+v, want %+v", got, want)
	}
	for _, bad := range []string{
		"```bash\nls\n```\n",
		"```shell\nls\n```\n",
		"```sh cluster\nls\n```\n",
		"```sh e2e podman\nls\n```\n",
		"```sh\nls\n",
	} {
		if _, err := ShellBlocks(bad, reasons); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Command
	}{
		{"one per line, comments and blanks skipped", "# a comment\nls -l      # list\n\necho hi\n",
			[]Command{{Line: 11, Text: "ls -l      # list", Comments: "# list"}, {Line: 13, Text: "echo hi"}}},
		{"exit code", `kubectl ask --mode Propose "scale checkout to 3"   # exit 3: awaiting approval` + "\n",
			[]Command{{Line: 10, Text: `kubectl ask --mode Propose "scale checkout to 3"   # exit 3: awaiting approval`, Exit: 3, Comments: "# exit 3: awaiting approval"}}},
		{"prints", "kubectl get aq x -o jsonpath='{.spec.requester.username}'   # prints alice\n",
			[]Command{{Line: 10, Text: "kubectl get aq x -o jsonpath='{.spec.requester.username}'   # prints alice", Prints: "alice", Comments: "# prints alice"}}},
		{"a # inside quotes is no comment", "echo 'a # b'\n", []Command{{Line: 10, Text: "echo 'a # b'"}}},
		{"an apostrophe in a comment opens no quote", "ls   # exit 3: alice's decision\nls\n",
			[]Command{{Line: 10, Text: "ls   # exit 3: alice's decision", Exit: 3, Comments: "# exit 3: alice's decision"}, {Line: 11, Text: "ls"}}},
		{"continuation", "helm install x \\\n  --set a=b\nls\n", []Command{{Line: 10, Text: "helm install x \\\n  --set a=b"}, {Line: 12, Text: "ls"}}},
		{"multi-line quote", "jq -r 'select(.a\n  and .b)' f\nls\n", []Command{{Line: 10, Text: "jq -r 'select(.a\n  and .b)' f"}, {Line: 12, Text: "ls"}}},
		{"here-document", "kubectl create -f - <<'EOF'   # exit 1\nkind: X\nEOF\nls\n",
			[]Command{{Line: 10, Text: "kubectl create -f - <<'EOF'   # exit 1\nkind: X\nEOF", Exit: 1, Comments: "# exit 1"}, {Line: 13, Text: "ls"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Commands(tt.text, 10)
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("Commands:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The script checks exit codes and output, and carries exports from block to block.
func TestScript(t *testing.T) {
	env := filepath.Join(t.TempDir(), "env")
	run := func(text string) (string, error) {
		out, err := exec.CommandContext(t.Context(), "bash", "-c", Script("page.md", Commands(text, 1), env)).CombinedOutput()
		return string(out), err
	}
	if out, err := run("export GREETING=hello\nfalse   # exit 1\necho $GREETING world   # prints hello world\n"); err != nil {
		t.Fatalf("a block that does what it says failed: %v\n%s", err, out)
	}
	if out, err := run("echo $GREETING\n"); err != nil || !strings.Contains(out, "hello") {
		t.Errorf("the export did not reach the next block: %v\n%s", err, out)
	}
	// Printing a command runs nothing of it: the command runs once.
	count := filepath.Join(t.TempDir(), "count")
	if out, err := run("echo $(echo x >> " + count + "; echo y)   # prints y\n"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if data, err := os.ReadFile(count); err != nil || string(data) != "x\n" {
		t.Errorf("the command ran %q times (%v), want once", data, err)
	}
	for _, tt := range []struct{ text, want string }{
		{"true\nfalse\ntrue\n", "page.md line 2: false: want exit 0, got exit 1"},
		{"true   # exit 3\n", "page.md line 1: true   # exit 3: want exit 3, got exit 0"},
		{"echo bob   # prints alice\n", `page.md line 1: echo bob   # prints alice: want output with "alice"`},
	} {
		out, err := run(tt.text)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("%q: err %v, output:\n%s\nwant a failure saying %q", tt.text, err, out, tt.want)
		}
	}
}
