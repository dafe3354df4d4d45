// Package install_test runs the shell commands of docs/install.md: the page says how to
// install kubeask, and this test keeps every command on it working.
package install_test

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// skipReasons are the tags a shell block may carry, each saying why this test does not
// run it here and what runs it instead; docs/install.md's "How this is tested" lists the
// same.
func skipReasons() map[string]string {
	return map[string]string{
		"e2e":        "needs a node that runs pods: make e2e (hack/e2e) runs it on a real node",
		"chart-test": "needs an API server to apply to: test/chart applies the same kustomize builds with a server-side dry run",
		"registry":   "needs a registry: make test-image pushes an image archive with the same program to an in-process registry",
		"podman":     "needs podman: no test here runs it",
	}
}

// block is one fenced shell block of a markdown page.
type block struct {
	Line int    // of the opening fence, 1-based
	Tag  string // after "sh ", empty for a plain sh block
	Text string
}

// shellBlocks returns the page's fenced shell blocks. A block whose info string is "sh"
// is to be run; "sh TAG" is skipped for TAG's reason. Any other shell marking (bash,
// shell, console, an unknown tag) is an error, so that no command escapes the test.
func shellBlocks(page string) ([]block, error) {
	var blocks []block
	var cur *block   // the open shell block
	inOther := false // inside a block of YAML or output: nothing to run
	var body strings.Builder
	sc := bufio.NewScanner(strings.NewReader(page))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "```") {
			if cur != nil {
				body.WriteString(line + "\n")
			}
			continue
		}
		info := strings.Fields(strings.TrimPrefix(trimmed, "```"))
		switch {
		case inOther:
			inOther = false
		case cur != nil && len(info) == 0: // the closing fence
			cur.Text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			return nil, fmt.Errorf("line %d: a fence opens inside the block of line %d", n, cur.Line)
		case len(info) == 0 || !isShell(info[0]):
			inOther = true
		case info[0] != "sh":
			return nil, fmt.Errorf("line %d: mark shell blocks ```sh (run by the test) or ```sh TAG (skipped for TAG's reason), not ```%s", n, info[0])
		case len(info) > 2:
			return nil, fmt.Errorf("line %d: ```sh takes at most one tag, not %v", n, info[1:])
		default:
			cur = &block{Line: n}
			if len(info) == 2 {
				if _, ok := skipReasons()[info[1]]; !ok {
					return nil, fmt.Errorf("line %d: unknown tag %q: add it with its reason to skipReasons and to docs/install.md", n, info[1])
				}
				cur.Tag = info[1]
			}
			body.Reset()
		}
	}
	if cur != nil || inOther {
		return nil, errors.New("a fenced block is never closed")
	}
	return blocks, nil
}

func isShell(lang string) bool {
	switch lang {
	case "sh", "bash", "shell", "console", "zsh", "shell-session":
		return true
	}
	return false
}

func TestShellBlocks(t *testing.T) {
	page := "# t\n\n```sh\nhelm lint x\n```\n\n```yaml\na: 1\n```\n\n```sh e2e\nkubectl rollout status x\n```\n\n```\noutput\n```\n"
	got, err := shellBlocks(page)
	if err != nil {
		t.Fatal(err)
	}
	want := []block{{Line: 3, Text: "helm lint x\n"}, {Line: 11, Tag: "e2e", Text: "kubectl rollout status x\n"}}
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
		if _, err := shellBlocks(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
