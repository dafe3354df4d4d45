// Package install_test runs the shell commands of docs/install.md: the page says how to
// install kubeask, and this test keeps every command on it working.
package install_test

import "github.com/kubeask/kubeask/internal/doctest"

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

// shellBlocks returns the page's fenced shell blocks (internal/doctest: "sh" is run, "sh
// TAG" skipped for TAG's reason, any other shell marking is an error).
func shellBlocks(page string) ([]doctest.Block, error) {
	return doctest.ShellBlocks(page, skipReasons())
}
