package chart_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPolicyCopiesAreIdentical keeps the admission policies shipped by the Helm chart
// (charts/kubeask/files/policies) and by kustomize (config/admission) byte-identical to the
// source of truth, internal/admission/policy/*.yaml (what the Go code embeds and tests).
func TestPolicyCopiesAreIdentical(t *testing.T) {
	root := cluster.Root
	src := policyFiles(t, filepath.Join(root, "internal", "admission", "policy"))
	if len(src) == 0 {
		t.Fatal("no policies in internal/admission/policy")
	}
	for _, dir := range []string{"charts/kubeask/files/policies", "config/admission"} {
		t.Run(dir, func(t *testing.T) {
			cp := policyFiles(t, filepath.Join(root, dir))
			names := func(m map[string][]byte) []string {
				var out []string
				for n := range m {
					out = append(out, n)
				}
				slices.Sort(out)
				return out
			}
			if !slices.Equal(names(src), names(cp)) {
				t.Fatalf("%s holds %v, internal/admission/policy holds %v: copy the files again", dir, names(cp), names(src))
			}
			for n, b := range src {
				if !bytes.Equal(b, cp[n]) {
					t.Errorf("%s/%s differs from internal/admission/policy/%s: copy it again (cp internal/admission/policy/*.yaml %s/)", dir, n, n, dir)
				}
			}
		})
	}
}

// policyFiles reads the *.yaml files of dir except kustomization.yaml.
func policyFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}
