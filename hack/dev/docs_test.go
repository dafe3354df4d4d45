package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubeask/kubeask/internal/doctest"
)

// docPages are the pages whose shell blocks run against the make dev environment, in
// the order a reader follows them: each starts where the one before left the cluster.
var docPages = []string{"README.md", "docs/kubectl-ask.md", "docs/dev.md"}

// docSkipReasons are the tags a shell block of docPages may carry, with why TestDocs
// does not run it (internal/doctest: any other tag, or ```bash, fails the test).
func docSkipReasons() map[string]string {
	return map[string]string{
		"dev":     "starts make dev: this test runs the same environment (startEnvironment runs hack/dev's Run in-process, with the kubeask-manager binary built from this checkout)",
		"model":   "needs a real model and its API key: TestDevEnvironment checks the manager's access to the key Secret, internal/agent's tests the APIKeyUnavailable reason",
		"example": "names things of your own cluster (contexts, models, endpoints, queries): an illustration, not run",
	}
}

// TestDocs runs the shell blocks of README.md, docs/kubectl-ask.md and docs/dev.md, in
// order, against a make dev environment, as a reader of those pages would in a second
// terminal: from a checkout (config/samples, charts/), with .dev, bin/kubectl-ask and bin/helm, kubectl on
// the PATH. A command must exit as its comment says ("# exit 3", else 0) and print what
// it says ("# prints 3"), so a change that breaks a documented command fails here.
func TestDocs(t *testing.T) {
	root, err := findRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	type page struct {
		name   string
		blocks []doctest.Block
	}
	var pages []page
	for _, name := range docPages {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := doctest.ShellBlocks(string(data), docSkipReasons())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pages = append(pages, page{name, blocks})
	}
	// What the walkthrough (issue 15) needs the pages to keep running.
	var runnable strings.Builder
	for _, p := range pages {
		for _, b := range p.blocks {
			if b.Tag == "" {
				runnable.WriteString(b.Text)
			}
		}
	}
	for _, c := range []string{
		`kubectl ask --mode Propose "scale checkout to 3"`, "kubectl ask approve", "kubectl ask cancel",
		"kubectl apply -k config/samples", "bob.kubeconfig kubectl ask approve", "requester: {username: admin",
		"kubectl ask sessions list",
	} {
		if !strings.Contains(runnable.String(), c) {
			t.Errorf("no untagged block of %v has %q: the test would not run it", docPages, c)
		}
	}

	// The reader's checkout: .dev, bin/kubectl-ask and bin/kubeask-manager (make build),
	// bin/helm (make dev), config/ and charts/. make dev runs exactly this manager binary.
	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin+string(os.PathSeparator), "./cmd/kubectl-ask", "./cmd/kubeask-manager")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building kubectl-ask and kubeask-manager: %v\n%s", err, out)
	}
	o := newOptions(t.Output())
	o.StateDir = t.TempDir()
	o.BinDir = controlPlaneDir(t)
	o.ManagerBin = filepath.Join(bin, "kubeask-manager")
	o.GracePeriod = 15 * time.Second
	info, _ := startEnvironment(t, o)
	for name, target := range map[string]string{".dev": o.StateDir, "config": filepath.Join(root, "config"), "charts": filepath.Join(root, "charts"), "bin/helm": o.HelmBin} {
		if err := os.Symlink(target, filepath.Join(work, name)); err != nil {
			t.Fatal(err)
		}
	}
	tools := filepath.Join(t.TempDir(), "tools") // kubectl only, not the repository's bin/
	if err := os.MkdirAll(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(o.BinDir, "kubectl"), filepath.Join(tools, "kubectl")); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + tools + string(os.PathListSeparator) + os.Getenv("PATH"), "LANG=C.UTF-8"}
	envFile := filepath.Join(t.TempDir(), "env")
	t.Logf("environment %s, reader's checkout %s", info.Server, work)

	reasons := docSkipReasons()
	for _, p := range pages {
		for _, b := range p.blocks {
			name := fmt.Sprintf("%s line %d", p.name, b.Line)
			if b.Tag != "" {
				t.Logf("%s: sh %s: %s", name, b.Tag, reasons[b.Tag])
				continue
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			cmd := exec.CommandContext(ctx, "bash", "-c", doctest.Script(p.name, doctest.Commands(b.Text, b.Line+1), envFile))
			cmd.Dir, cmd.Env = work, env
			out, err := cmd.CombinedOutput()
			cancel()
			if err != nil {
				// The pages build on each other: the next blocks would fail for this one.
				t.Fatalf("%s:\n%s\n%v; output:\n%s", name, b.Text, err, out)
			}
			t.Logf("%s:\n%s", name, out)
		}
	}
}
