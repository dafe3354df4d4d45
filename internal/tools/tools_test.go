package tools_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/tools"
)

func TestEachRequesterSeesOnlyWhatTheyMay(t *testing.T) {
	aliceEnv := envFor(t, alice, tools.OutputPolicy{})
	bobEnv := envFor(t, bob, tools.OutputPolicy{})

	res := call(t, aliceEnv, "resources_list", `{"resource":"pods","namespace":"team-a"}`)
	if res.IsError || !strings.Contains(res.Text, "checkout-1") {
		t.Fatalf("alice listing team-a pods: %+v", res)
	}
	res = call(t, aliceEnv, "resources_list", `{"resource":"pods","namespace":"team-b"}`)
	if !res.IsError || !strings.Contains(res.Text, "forbidden") || !strings.Contains(res.Text, `"alice"`) || strings.Contains(res.Text, "payments") {
		t.Fatalf("alice listing team-b pods: want a readable 403 naming alice, got %+v", res)
	}
	res = call(t, bobEnv, "resources_list", `{"resource":"pods","namespace":"team-b"}`)
	if res.IsError || !strings.Contains(res.Text, "payments-1") {
		t.Fatalf("bob listing team-b pods: %+v", res)
	}
	// All namespaces: alice may not list cluster-wide, so the API server refuses; the
	// operator's own (impersonation-only) rights never help.
	res = call(t, aliceEnv, "resources_list", `{"resource":"pods","allNamespaces":true}`)
	if !res.IsError || !strings.Contains(res.Text, "forbidden") {
		t.Fatalf("alice listing all pods: %+v", res)
	}
	res = call(t, aliceEnv, "resources_get", `{"resource":"configmap","name":"settings","namespace":"team-b"}`)
	if !res.IsError || strings.Contains(res.Text, "slow") {
		t.Fatalf("alice reading bob's configmap: %+v", res)
	}
	res = call(t, aliceEnv, "auth_can_i", `{"verb":"list","resource":"pods","namespace":"team-b"}`)
	if !strings.HasPrefix(res.Text, "no") {
		t.Errorf("alice can-i list pods in team-b = %q, want no", res.Text)
	}
	res = call(t, bobEnv, "auth_can_i", `{"verb":"list","resource":"pods","namespace":"team-b"}`)
	if !strings.HasPrefix(res.Text, "yes") {
		t.Errorf("bob can-i list pods in team-b = %q, want yes", res.Text)
	}
}

func TestDeniedRequestersAreRefused(t *testing.T) {
	for _, id := range []identity.Identity{{}, {Username: "system:serviceaccount:argocd:argocd-application-controller"}} {
		if _, err := tools.NewEnv(factory, id, mapper, tools.OutputPolicy{}); err == nil {
			t.Errorf("env for %q: want refusal", id.Username)
		}
	}
}

func TestSecretsAreRedactedUnlessAllowed(t *testing.T) {
	res := call(t, envFor(t, alice, tools.OutputPolicy{}), "resources_get", `{"resource":"secret","name":"db","namespace":"team-a"}`)
	if res.IsError || strings.Contains(res.Text, "aHVudGVy") || !strings.Contains(res.Text, "<redacted") {
		t.Fatalf("secret not redacted: %s", res.Text)
	}
	res = call(t, envFor(t, alice, tools.OutputPolicy{}), "resources_describe", `{"resource":"pod","name":"checkout-1","namespace":"team-a"}`)
	if strings.Contains(res.Text, "hunter2") || !strings.Contains(res.Text, "fast") {
		t.Fatalf("credential env var not redacted, or plain env var redacted: %s", res.Text)
	}
	if !strings.Contains(res.Text, "Back-off restarting failed container") {
		t.Errorf("describe lacks the pod's events: %s", res.Text)
	}
	res = call(t, envFor(t, alice, tools.OutputPolicy{AllowSecretValues: true}), "resources_get", `{"resource":"secrets","name":"db","namespace":"team-a"}`)
	if !strings.Contains(res.Text, "aHVudGVyMi12ZXJ5LXNlY3JldA==") {
		t.Fatalf("secret value hidden although the profile allows it: %s", res.Text)
	}
}

func TestArgumentsAreValidated(t *testing.T) {
	env := envFor(t, alice, tools.OutputPolicy{})
	cases := []struct {
		tool, args, want string
	}{
		{"resources_get", `{"resource":"pods"}`, "name"},
		{"resources_get", `{"resource":"pods","name":7}`, "name"},
		{"resources_list", `{"resource":"pods","colour":"red"}`, "colour"},
		{"resources_list", `not json`, "not valid JSON"},
		{"resources_list", `{"resource":"flurbs"}`, "api_resources"},
		{"resources_patch", `{"resource":"configmap","name":"settings","namespace":"team-a","patch":"{","patchType":"merge"}`, "not valid JSON"},
		{"resources_patch", `{"resource":"configmap","name":"settings","namespace":"team-a","patch":"{}","patchType":"yaml"}`, "patchType"},
		{"rollout_status", `{"kind":"configmap","name":"x"}`, "no rollout"},
		{"resources_scale", `{"resource":"deploy","name":"checkout","namespace":"team-a","replicas":-1}`, "negative"},
		{"resources_apply", `{"manifest":"kind: ConfigMap"}`, "apiVersion"},
	}
	for _, tc := range cases {
		res := call(t, env, tc.tool, tc.args)
		if !res.IsError || !strings.Contains(res.Text, tc.want) {
			t.Errorf("%s(%s) = %+v, want a readable error mentioning %q", tc.tool, tc.args, res, tc.want)
		}
	}
}

func TestErrorsAreClassified(t *testing.T) {
	env := envFor(t, alice, tools.OutputPolicy{})
	cases := []struct {
		tool, args, want string
	}{
		{"resources_get", `{"resource":"pods","name":"nope","namespace":"team-a"}`, "not found"},
		{"resources_get", `{"resource":"pods","name":"payments-1","namespace":"team-b"}`, "forbidden"},
		{"resources_apply", `{"manifest":"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n  namespace: team-a\n"}`, "invalid"},
		{"pods_log", `{"name":"nope","namespace":"team-a"}`, "not found"},
		{"pods_log", `{"name":"payments-1","namespace":"team-b"}`, "forbidden"},
	}
	for _, tc := range cases {
		res := call(t, env, tc.tool, tc.args)
		if !res.IsError || !strings.HasPrefix(res.Text, tc.want) {
			t.Errorf("%s(%s) = %+v, want an error starting %q", tc.tool, tc.args, res, tc.want)
		}
	}
}

func TestReadTools(t *testing.T) {
	env := envFor(t, alice, tools.OutputPolicy{})
	checks := []struct {
		tool, args string
		want       []string
	}{
		{"resources_list", `{"resource":"deploy","namespace":"team-a"}`, []string{"checkout", "READY"}},
		{"resources_list", `{"resource":"Pod","namespace":"team-a","labelSelector":"app=checkout"}`, []string{"checkout-1"}},
		{"resources_list", `{"resource":"pods","namespace":"team-a","labelSelector":"app=none"}`, []string{"No pods found in namespace team-a"}},
		{"resources_get", `{"resource":"deployments.apps","name":"checkout","namespace":"team-a"}`, []string{"kind: Deployment", "replicas: 2"}},
		{"events_list", `{"namespace":"team-a","warningsOnly":true}`, []string{"BackOff", "Pod/checkout-1"}},
		{"rollout_status", `{"kind":"deploy","name":"checkout","namespace":"team-a"}`, []string{"deployment team-a/checkout"}},
		{"rollout_history", `{"kind":"deployment","name":"checkout","namespace":"team-a"}`, []string{"checkout"}},
		{"api_resources", `{"apiGroup":"apps"}`, []string{"deployments", "deploy", "apps/v1"}},
		{"api_resources", `{"apiGroup":"agents.kubeask.dev"}`, []string{"agentqueries", "aq"}},
	}
	for _, c := range checks {
		res := call(t, env, c.tool, c.args)
		if res.IsError {
			t.Errorf("%s(%s): %s", c.tool, c.args, res.Text)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(res.Text, w) {
				t.Errorf("%s(%s) lacks %q:\n%s", c.tool, c.args, w, res.Text)
			}
		}
	}
}

func TestOutputIsBoundedHonestly(t *testing.T) {
	env := envFor(t, alice, tools.OutputPolicy{MaxBytes: 200})
	res := call(t, env, "resources_get", `{"resource":"deployment","name":"checkout","namespace":"team-a"}`)
	if !res.Truncated || len(res.Text) > 200+200 || !strings.Contains(res.Text, "[truncated: showed") {
		t.Fatalf("want a truncated result with a note, got %d bytes: %s", len(res.Text), res.Text)
	}
}

func TestMutatingToolsActAsTheRequester(t *testing.T) {
	ctx := t.Context()
	aliceEnv := envFor(t, alice, tools.OutputPolicy{})
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: created-by-agent\ndata:\n  a: b\n"

	res := call(t, aliceEnv, "resources_apply", `{"manifest":`+quote(manifest)+`,"namespace":"team-b"}`)
	if !res.IsError || !strings.Contains(res.Text, "forbidden") {
		t.Fatalf("alice applying into team-b: %+v", res)
	}
	res = call(t, aliceEnv, "resources_apply", `{"manifest":`+quote(manifest)+`,"namespace":"team-a"}`)
	if res.IsError {
		t.Fatalf("alice applying into team-a: %s", res.Text)
	}
	cm := &corev1.ConfigMap{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "created-by-agent"}, cm); err != nil {
		t.Fatal(err)
	}
	if len(cm.ManagedFields) == 0 || cm.ManagedFields[0].Manager != "kubeask" {
		t.Errorf("managedFields = %+v, want the kubeask field manager", cm.ManagedFields)
	}

	res = call(t, aliceEnv, "resources_patch", `{"resource":"cm","name":"created-by-agent","namespace":"team-a","patchType":"merge","patch":"{\"data\":{\"a\":\"c\"}}"}`)
	if res.IsError {
		t.Fatal(res.Text)
	}
	res = call(t, aliceEnv, "resources_scale", `{"resource":"deployment","name":"checkout","namespace":"team-a","replicas":5}`)
	if res.IsError {
		t.Fatal(res.Text)
	}
	res = call(t, aliceEnv, "rollout_restart", `{"kind":"deployment","name":"checkout","namespace":"team-a"}`)
	if res.IsError {
		t.Fatal(res.Text)
	}
	d := deployment("team-a", "checkout")
	if err := admin.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 5 || d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Errorf("deployment after scale and restart: replicas %d, annotations %v", *d.Spec.Replicas, d.Spec.Template.Annotations)
	}
	res = call(t, envFor(t, bob, tools.OutputPolicy{}), "resources_delete", `{"resource":"configmap","name":"created-by-agent","namespace":"team-a"}`)
	if !res.IsError || !strings.Contains(res.Text, "forbidden") {
		t.Fatalf("bob deleting in team-a: %+v", res)
	}
	res = call(t, aliceEnv, "resources_delete", `{"resource":"configmap","name":"created-by-agent","namespace":"team-a"}`)
	if res.IsError {
		t.Fatal(res.Text)
	}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "created-by-agent"}, &corev1.ConfigMap{}); err == nil {
		t.Error("configmap still exists after delete")
	}
}

func TestAnnotationsGateMutations(t *testing.T) {
	for _, tool := range registry.List() {
		mut := tool.Mutates(nil)
		if mut == tool.Annotations.ReadOnly {
			t.Errorf("%s: Mutates %v but ReadOnly %v", tool.Name, mut, tool.Annotations.ReadOnly)
		}
		isWrite := strings.Contains(tool.Description, "Changes the cluster")
		if isWrite == tool.Annotations.ReadOnly {
			t.Errorf("%s: description and ReadOnly annotation disagree", tool.Name)
		}
	}
}

func quote(s string) string {
	b := strings.Builder{}
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\n':
			b.WriteString(`\n`)
		case '"':
			b.WriteString(`\"`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
