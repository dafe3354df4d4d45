package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTheManagerLinksNoKubectlMachinery: the manager serves the web UI with code shared
// with kubectl ask; the kubeconfig flags behind that plugin bring kubectl's kustomize and
// the plugin package, which make the executable 50 MB larger (every symbol exported for
// plugins) and cost its memory and the image's size. They belong to kubectl ask only.
func TestTheManagerLinksNoKubectlMachinery(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "plugin" || strings.HasPrefix(pkg, "k8s.io/cli-runtime/") || strings.HasPrefix(pkg, "sigs.k8s.io/kustomize/") ||
			strings.HasPrefix(pkg, "github.com/chromedp/") {
			t.Errorf("kubeask-manager links %s", pkg)
		}
	}
}
