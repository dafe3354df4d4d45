package askcli_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
)

// A proposal larger than the 2 KiB status keeps of a step's arguments is shown whole by
// approve, and the approval names the digest of exactly what was shown; the change
// then runs whole.
func TestApproveShowsAndApprovesTheFullArguments(t *testing.T) {
	t.Parallel()
	var lines strings.Builder
	for i := range 200 {
		fmt.Fprintf(&lines, "line %03d of the settings\n", i)
	}
	lines.WriteString("END-OF-THE-SETTINGS\n")
	manifest := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-settings\n  namespace: team-a\ndata:\n  settings: %q\n", lines.String())
	args, err := json.Marshal(map[string]string{"manifest": manifest})
	if err != nil {
		t.Fatal(err)
	}
	if len(args) <= agentsv1alpha1.MaxStepArgsLength {
		t.Fatalf("the manifest is %d bytes: too small to be cut", len(args))
	}
	prompt := "Create the big settings."
	scripts.Set(prompt, callThen("resources_apply", string(args), func(res string) string { return "Applied: " + res }))
	r := kubectlAsk(t, "alice", "", "--mode", "Propose", "--profile", "operate", prompt)
	m := approveHint.FindStringSubmatch(r.errOut)
	if r.code != exitcode.AwaitingApproval || m == nil {
		t.Fatalf("want exit 3 and an approve hint\n%s", r)
	}
	q := &agentsv1alpha1.AgentQuery{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: m[1]}, q); err != nil {
		t.Fatal(err)
	}
	step := q.Status.Steps[0]
	if !step.Truncated || step.FullArguments != string(args) || step.Digest == "" {
		t.Fatalf("proposal: truncated %v, %d bytes of full arguments, digest %q", step.Truncated, len(step.FullArguments), step.Digest)
	}

	r = kubectlAsk(t, "alice", "", "approve", m[1], "--yes")
	if r.code != exitcode.Answered {
		t.Fatalf("approve:\n%s", r)
	}
	mustContain(t, r, "stderr", "END-OF-THE-SETTINGS") // beyond the first 2 KiB
	mustContain(t, r, "stderr", "digest "+step.Digest)
	if strings.Contains(r.errOut, "the arguments were cut") {
		t.Errorf("approve warned about cut arguments although it showed them whole:\n%s", r)
	}
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(q), q); err != nil {
		t.Fatal(err)
	}
	if want := []string{"s1@" + step.Digest}; !slices.Equal(q.Spec.Approvals, want) {
		t.Errorf("approvals = %v, want %v", q.Spec.Approvals, want)
	}
	cm := &corev1.ConfigMap{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: "big-settings"}, cm); err != nil {
		t.Fatalf("the approved ConfigMap: %v", err)
	}
	if cm.Data["settings"] != lines.String() {
		t.Errorf("the ConfigMap holds %d bytes of settings, want %d", len(cm.Data["settings"]), lines.Len())
	}
}
