// Package generated checks that the committed generated files (deepcopy code, CRDs,
// RBAC role, and their copies in the Helm chart) match what the markers produce now.
package generated

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kubeask/kubeask/internal/testcluster"
)

func TestGeneratedFilesAreCurrent(t *testing.T) {
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(root, "bin", "controller-gen")
	if _, err := os.Stat(gen); err != nil {
		t.Fatalf("controller-gen not built (run `make test`, which builds bin/controller-gen): %v", err)
	}
	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), filepath.Join(root, "hack", "generate.sh"), out)
	cmd.Env = append(os.Environ(), "CONTROLLER_GEN="+gen)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/generate.sh: %v\n%s", err, b)
	}
	files := []string{
		"api/v1alpha1/zz_generated.deepcopy.go",
		"config/crd/bases/agents.kubeask.dev_agentqueries.yaml",
		"config/crd/bases/agents.kubeask.dev_agentsessions.yaml",
		"config/rbac/role.yaml",
	}
	for _, f := range files {
		want, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `make generate manifests` and commit the result", f)
		}
	}
	// The chart ships the CRDs as copies.
	for _, f := range files[1:3] {
		want, _ := os.ReadFile(filepath.Join(root, f))
		got, err := os.ReadFile(filepath.Join(root, "charts", "kubeask", "crds", filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("charts/kubeask/crds/%s differs from %s: run `make manifests`", filepath.Base(f), f)
		}
	}
}
