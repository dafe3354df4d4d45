package askcli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubeask/kubeask/internal/testcluster"
)

// TestSamplesWithKubectl runs the GitOps path of docs/gitops.md with the real kubectl:
// apply config/samples as alice, wait for the answer, read it with jsonpath.
func TestSamplesWithKubectl(t *testing.T) {
	t.Parallel()
	kubectl := filepath.Join(cluster.Root, "bin", "k8s", testcluster.K8sVersion, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Skipf("no kubectl in %s (make controlplane builds it)", kubectl)
	}
	scripts.Set("Why are the checkout pods not running?", reply("They are **Pending**: no node can run them."))
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), kubectl, append([]string{"--kubeconfig", kubeconfigs["alice"], "--cache-dir", cacheDir}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	samples := filepath.Join(cluster.Root, "config", "samples")
	// The directory holds a kustomization.yaml (for make dev), so it is applied with -k;
	// each file also applies on its own with -f (below).
	run("apply", "-k", samples)
	run("wait", "agentquery/why-is-checkout-pending", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=60s")
	if got := run("get", "agentquery", "why-is-checkout-pending", "-o", "jsonpath={.status.answer}"); got != "They are **Pending**: no node can run them." {
		t.Errorf("answer = %q", got)
	}
	if got := run("get", "agentquery", "why-is-checkout-pending", "-o", "jsonpath={.spec.requester.username}"); got != "alice" {
		t.Errorf("requester = %q, want alice (stamped by admission)", got)
	}
	// Re-applying the same manifest (what a GitOps controller does on every sync) is a no-op.
	if out := run("apply", "-f", filepath.Join(samples, "agents_v1alpha1_agentquery.yaml")); !strings.Contains(out, "unchanged") {
		t.Errorf("re-applying the query: %s", out)
	}
	// And the plugin reads the same query.
	r := kubectlAsk(t, "alice", "", "get", "why-is-checkout-pending")
	if r.code != 0 || !strings.Contains(r.out, "no node can run them") {
		t.Errorf("kubectl ask get:\n%s", r)
	}

	// The trigger samples came with -k as alice, who becomes the requester their
	// queries run as; they re-apply unchanged.
	triggers := map[string]string{
		"agents_v1alpha1_agenttrigger_crashloop.yaml": "checkout-crashloop",
		"agents_v1alpha1_agenttrigger_schedule.yaml":  "team-a-morning-report",
	}
	for file, name := range triggers {
		path := filepath.Join(samples, file)
		t.Cleanup(func() { _ = exec.Command(kubectl, "--kubeconfig", kubeconfigs["alice"], "delete", "-f", path).Run() })
		if got := run("get", "agenttrigger", name, "-o", "jsonpath={.spec.requester.username}"); got != "alice" {
			t.Errorf("%s: requester = %q, want alice (stamped by admission)", name, got)
		}
		if out := run("apply", "-f", path); !strings.Contains(out, "unchanged") {
			t.Errorf("re-applying %s: %s", file, out)
		}
	}
	r = kubectlAsk(t, "alice", "", "triggers")
	for _, want := range []string{`checkout-crashloop\s+events BackOff on Pod \(checkout-\*\)\s+alice\s`, `team-a-morning-report\s+cron 0 9 \* \* 1-5 \(Europe/Paris\)\s+alice\s`} {
		if r.code != 0 || !regexp.MustCompile(`(?m)^`+want).MatchString(r.out) {
			t.Errorf("kubectl ask triggers should list %s:\n%s", want, r)
		}
	}
}
