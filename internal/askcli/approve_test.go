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
	"github.com/kubeask/kubeask/internal/askcli/cmd/approve"
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

// An approved change that the API server refuses (alice may not create Namespaces) is
// not reported as a success: approve says which change failed and why, and exits 1,
// although the query itself ends Succeeded with the model's answer (issue 15 §2).
func TestApproveOfAChangeThatFailsExits1(t *testing.T) {
	t.Parallel()
	args, err := json.Marshal(map[string]string{"manifest": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: not-for-alice\n"})
	if err != nil {
		t.Fatal(err)
	}
	prompt := "Create the namespace not-for-alice."
	scripts.Set(prompt, callThen("resources_apply", string(args), func(res string) string { return "Done: " + res }))
	r := kubectlAsk(t, "alice", "", "--mode", "Propose", "--profile", "operate", prompt)
	m := approveHint.FindStringSubmatch(r.errOut)
	if r.code != exitcode.AwaitingApproval || m == nil {
		t.Fatalf("want exit 3 and an approve hint\n%s", r)
	}
	r = kubectlAsk(t, "alice", "", "approve", m[1], "--yes")
	if r.code != exitcode.Failed {
		t.Fatalf("approve of a change the API server refused: exit %d, want 1\n%s", r.code, r)
	}
	mustContain(t, r, "stderr", "error: the approved change s1 failed:")
	mustContain(t, r, "stderr", "forbidden")
	mustContain(t, r, "stderr", "The approved change of query "+m[1]+" did not change the cluster as approved")
	q := &agentsv1alpha1.AgentQuery{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: m[1]}, q); err != nil {
		t.Fatal(err)
	}
	if q.Status.Phase != agentsv1alpha1.QuerySucceeded {
		t.Errorf("the query is %s, want Succeeded (the model answered)", q.Status.Phase)
	}
}

func TestFailedSteps(t *testing.T) {
	steps := []agentsv1alpha1.Step{
		{ID: "s1", State: agentsv1alpha1.StepDone},
		{ID: "s2", State: agentsv1alpha1.StepDone, Error: "forbidden"},
		{ID: "s3", State: agentsv1alpha1.StepFailed, Error: "could not run"},
		{ID: "s4", State: agentsv1alpha1.StepUnknown},
		{ID: "s5", State: agentsv1alpha1.StepDenied, Error: "denied by alice"},
		{ID: "s6", State: agentsv1alpha1.StepDone, Error: "forbidden"},
	}
	q := &agentsv1alpha1.AgentQuery{Status: agentsv1alpha1.AgentQueryStatus{Steps: steps}}
	tests := []struct {
		name string
		ids  []string
		want []string
	}{
		{"done without error", []string{"s1"}, nil},
		{"error, could not run, unknown", []string{"s1", "s2", "s3", "s4"}, []string{"s2", "s3", "s4"}},
		{"denied is not a failed change", []string{"s5"}, nil},
		{"only the steps decided now", []string{"s1"}, nil},
		{"another step's error", []string{"s2"}, []string{"s2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range approve.FailedSteps(q, tt.ids) {
				got = append(got, s.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("FailedSteps(%v) = %v, want %v", tt.ids, got, tt.want)
			}
		})
	}
}
