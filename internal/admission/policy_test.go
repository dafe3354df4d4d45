package admission_test

import (
	"testing"

	"github.com/kubeask/kubeask/internal/admission/policy"
	"github.com/kubeask/kubeask/internal/manifest"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// TestPolicyPath enforces the rules with the MutatingAdmissionPolicy and
// ValidatingAdmissionPolicies alone: no webhook, no manager.
func TestPolicyPath(t *testing.T) {
	c, err := testcluster.Start(testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	u := setupUsers(t, c)
	objs, err := policy.Objects()
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Apply(t.Context(), u.admin, "kubeask-test", objs); err != nil {
		t.Fatal(err)
	}
	runScenarios(t, u)
	runTriggerScenarios(t, u)
	runTrustScenarios(t, u)
}
