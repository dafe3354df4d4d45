package askcli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// TestGitOpsWaits runs the waits of docs/gitops.md with the real kubectl as alice:
// condition Complete at any outcome, condition Ready only on success, and the pipeline's
// test of Ready and its report of the reason.
func TestGitOpsWaits(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(cluster.Root, "bin", "k8s", testcluster.K8sVersion, "kubectl")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no kubectl in %s (make controlplane builds it)", bin)
	}
	kubectl := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, append([]string{"--kubeconfig", kubeconfigs["alice"], "--cache-dir", cacheDir}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	create := func(args ...string) string {
		t.Helper()
		r := kubectlAsk(t, "alice", "", append([]string{"--wait=false"}, args...)...)
		if r.code != exitcode.Answered {
			t.Fatalf("%s", r)
		}
		return "agentquery/" + strings.TrimSpace(r.out)
	}
	prompt := "Is the release ready to go?"
	scripts.Set(prompt, reply("Yes, ready."))
	answered := create(prompt)
	failed := create("--model", "no-such-model", "Which model answers this?")

	for _, q := range []string{answered, failed} {
		if out, err := kubectl("wait", q, "--for=condition=Complete", "--timeout=60s"); err != nil {
			t.Fatalf("waiting for %s to complete: %v\n%s", q, err, out)
		}
	}
	if out, err := kubectl("wait", answered, "--for=condition=Ready", "--timeout=10s"); err != nil {
		t.Errorf("waiting for the answered query to be Ready: %v\n%s", err, out)
	}
	if out, err := kubectl("wait", failed, "--for=condition=Ready", "--timeout=2s"); err == nil || !strings.Contains(out, "timed out") {
		t.Errorf("waiting for the failed query to be Ready should time out: %v\n%s", err, out)
	}
	ready := `jsonpath={.status.conditions[?(@.type=="Ready")].status}`
	why := `jsonpath={.status.phase}{" ("}{.status.conditions[?(@.type=="Complete")].reason}{"): "}{.status.conditions[?(@.type=="Complete")].message}`
	for q, want := range map[string][2]string{
		answered: {"True", "Succeeded (Answered): "},
		failed:   {"False", `Failed (UnknownModel): the model catalog has no model "no-such-model"`},
	} {
		if out, err := kubectl("get", q, "-o", ready); err != nil || out != want[0] {
			t.Errorf("%s: Ready is %q (%v), want %s", q, out, err, want[0])
		}
		if out, err := kubectl("get", q, "-o", why); err != nil || !strings.HasPrefix(out, want[1]) {
			t.Errorf("%s: the pipeline's report is %q (%v), want it to start with %q", q, out, err, want[1])
		}
	}
}
