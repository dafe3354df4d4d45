// Package policy holds kubeask's declarative admission rules: a MutatingAdmissionPolicy
// that stamps spec.requester and ValidatingAdmissionPolicies that guard it. They are the
// default enforcement path (Kubernetes 1.36+); internal/admission/webhook implements the
// same rules for older clusters. `make manifests` copies these files into the Helm chart
// and config/, and a test keeps the copies identical.
package policy

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubeask/kubeask/internal/manifest"
)

//go:embed *.yaml
var files embed.FS

// Files returns the policy manifests by file name.
func Files() (map[string][]byte, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out[n] = b
	}
	return out, nil
}

// Objects returns every policy and binding, in file-name order.
func Objects() ([]*unstructured.Unstructured, error) {
	fm, err := Files()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(fm))
	for n := range fm {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []*unstructured.Unstructured
	for _, n := range names {
		o, err := manifest.Decode(fm[n])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		objs = append(objs, o...)
	}
	return objs, nil
}
