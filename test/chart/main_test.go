// Package chart_test renders the Helm chart and the kustomize configuration and proves, against
// a real kube-apiserver with RBAC on, that every object is accepted and that the manager's RBAC
// is least privilege: constrained impersonation limits it to the verbs the agent modes need.
package chart_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/kubeask/kubeask/internal/testcluster"
)

// cluster is shared by the tests of this package: one control plane start (about ten seconds on
// two cores) instead of one per test. Tests use their own release names and namespaces.
var cluster *testcluster.Cluster

func TestMain(m *testing.M) {
	c, err := testcluster.Start(testcluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/chart:", err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "test/chart: stopping the control plane:", err)
	}
	os.Exit(code)
}
