package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// make dev and make test rebuild nothing when nothing changed, and the binaries when one
// of their sources did (issue 15 §7). make -n against fake binaries in a temporary bin
// directory, newer than every source: nothing is built or run.
func TestMakeBuildsOnlyWhatChanged(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	root, err := findRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	future := time.Now().Add(time.Hour)
	for _, name := range []string{"kubeask-manager", "kubectl-ask", "kubeask-dev", "controller-gen", "helm", "kustomize", "golangci-lint"} {
		p := filepath.Join(bin, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, future, future); err != nil {
			t.Fatal(err)
		}
	}
	dryRun := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "make", append([]string{"-n", "-C", root, "BIN=" + bin}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tests := []struct {
		name      string
		args      []string
		builds    []string // go build lines expected, by package
		notBuilds []string
	}{
		{"dev, nothing changed", []string{"dev"}, nil, []string{"go build"}},
		{"test, nothing changed", []string{"test"}, nil, []string{"go build"}},
		{"dev after an edit of the operator", []string{"-W", "internal/agent/loop.go", "dev"}, []string{"./cmd/kubeask-manager ./cmd/kubectl-ask", "./hack/dev"}, nil},
		{"dev after an edit of the demo", []string{"-W", "hack/dev/demo.yaml", "dev"}, []string{"./hack/dev"}, []string{"./cmd/kubeask-manager"}},
		{"build after an edit of an embedded policy", []string{"-W", "internal/admission/policy/stamp-requester.yaml", "build"}, []string{"./cmd/kubeask-manager"}, nil},
		{"build after a new version", []string{"-W", "VERSION", "build"}, []string{"./cmd/kubeask-manager"}, nil},
		{"test after a tools change", []string{"-W", "hack/tools/go.mod", "test"}, []string{"controller-gen", "helm", "kustomize"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := dryRun(t, tt.args...)
			for _, w := range tt.builds {
				if !strings.Contains(out, w) {
					t.Errorf("make -n %v does not build %s:\n%s", tt.args, w, out)
				}
			}
			for _, n := range tt.notBuilds {
				if strings.Contains(out, n) {
					t.Errorf("make -n %v runs %s:\n%s", tt.args, n, out)
				}
			}
		})
	}
}
