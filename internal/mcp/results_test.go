package mcp_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubeask/kubeask/internal/llm/llmtest"
	kmcp "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// outputSchemas are the resolved output schemas of the tools each session lists.
var outputSchemas sync.Map // *mcp.ClientSession -> map[string]*jsonschema.Resolved

func outputSchemasOf(t testing.TB, cs *mcp.ClientSession) map[string]*jsonschema.Resolved {
	t.Helper()
	if m, ok := outputSchemas.Load(cs); ok {
		return m.(map[string]*jsonschema.Resolved)
	}
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	m := map[string]*jsonschema.Resolved{}
	for _, tool := range res.Tools {
		if tool.OutputSchema == nil {
			continue
		}
		data, err := json.Marshal(tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		var schema jsonschema.Schema
		if err := json.Unmarshal(data, &schema); err != nil {
			t.Fatalf("%s: the output schema is not a JSON Schema: %v", tool.Name, err)
		}
		resolved, err := schema.Resolve(nil)
		if err != nil {
			t.Fatalf("%s: the output schema does not resolve: %v", tool.Name, err)
		}
		m[tool.Name] = resolved
	}
	outputSchemas.Store(cs, m)
	return m
}

// checkResult fails the test when a tool's result breaks the contract MCP clients
// rely on: a success carries structured content valid under the tool's output schema;
// an error is isError with text content and no structured content. callTool checks
// every result of every test with it.
func checkResult(t testing.TB, cs *mcp.ClientSession, tool string, res *mcp.CallToolResult) {
	t.Helper()
	if len(res.InputRequests) > 0 {
		return // not a result yet: the call waits for the user's confirmation
	}
	if res.IsError {
		if res.StructuredContent != nil {
			t.Errorf("%s: an error result carries structured content %v", tool, res.StructuredContent)
		}
		if strings.TrimSpace(resultText(res)) == "" {
			t.Errorf("%s: an error result without text", tool)
		}
		return
	}
	schema := outputSchemasOf(t, cs)[tool]
	if schema == nil {
		t.Errorf("%s lists no output schema", tool)
		return
	}
	if res.StructuredContent == nil {
		t.Errorf("%s: a successful result without structured content (its output schema requires it)", tool)
		return
	}
	if err := schema.Validate(res.StructuredContent); err != nil {
		t.Errorf("%s: the structured content does not match the output schema: %v\n%v", tool, err, res.StructuredContent)
	}
}

// Every tool's results, success and each error path, match the tool's output schema
// (checkResult), on endpoints with each mutation policy (the manager answers ask).
// Every listed tool must be covered with a success and an error, so that a new tool
// cannot skip the check.
func TestEveryResultMatchesItsOutputSchema(t *testing.T) {
	f := env(t)
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "schema-web", Namespace: "team-a"},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "schema-web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "schema-web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "web:1"}}}},
		}}
	if err := f.admin.Create(t.Context(), web); err != nil {
		t.Fatal(err)
	}
	const (
		answered = "schema test: answer me"
		failing  = "schema test: fail"
		proposed = "schema test: propose a scale"
	)
	scripts.Store(answered, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "an answer"} })
	scripts.Store(failing, func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Status: 400, Body: `{"error":{"message":"the model refuses","type":"invalid_request_error"}}`}
	})
	scripts.Store(proposed, func(req llmtest.Request) llmtest.Reply {
		if len(req.ToolResults()) == 0 {
			return llmtest.Reply{Calls: []llmtest.Call{{Name: "resources_scale", Args: `{"resource":"deployments","namespace":"team-a","name":"schema-web","replicas":2}`}}}
		}
		return llmtest.Reply{Text: "proposed"}
	})

	allow := newServer(t, func(c *kmcp.Config) {
		c.Options.Mutations = kmcp.MutationsAllow
		c.KubectlPath = kubectlPath(t)
	})
	readOnly := newServer(t, func(c *kmcp.Config) { c.KubectlPath = kubectlPath(t) })
	propose := newServer(t, func(c *kmcp.Config) { c.Options.Mutations = kmcp.MutationsPropose })
	askNow := newServer(t, func(c *kmcp.Config) { c.Options.AskTimeout = time.Millisecond })
	sessions := map[string]*mcp.ClientSession{
		"allow":     connect(t, allow.URL, aliceToken, nil),
		"read-only": connect(t, readOnly.URL, aliceToken, nil),
		"propose":   connect(t, propose.URL, aliceToken, nil, "2025-06-18"),
		"ask-now":   connect(t, askNow.URL, aliceToken, nil),
	}
	cm := func(ns string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: schema-cm\n  namespace: " + ns + "\ndata:\n  a: b\n"
	}
	type coverKey struct {
		tool  string
		isErr bool
	}
	covered := map[coverKey]bool{}
	pod := map[string]any{"resource": "pods", "namespace": "team-a", "name": "checkout-1"}
	deploy := map[string]any{"kind": "deployment", "namespace": "team-a", "name": "schema-web"}
	missing := map[string]any{"kind": "deployment", "namespace": "team-a", "name": "no-such-thing"}
	for _, tc := range []struct {
		server, tool string
		args         map[string]any
		wantError    bool
	}{
		{"allow", "resources_list", map[string]any{"resource": "pods", "namespace": "team-a"}, false},
		{"allow", "resources_list", map[string]any{"resource": "pods", "namespace": "team-b"}, true},
		{"allow", "resources_list", map[string]any{"resource": "flurbs"}, true},
		{"allow", "resources_list", map[string]any{}, true},
		{"allow", "resources_get", pod, false},
		{"allow", "resources_get", map[string]any{"resource": "pods", "namespace": "team-a", "name": "nope"}, true},
		{"allow", "resources_describe", pod, false},
		{"allow", "resources_describe", map[string]any{"resource": "pods", "namespace": "team-b", "name": "payments-1"}, true},
		{"allow", "events_list", map[string]any{"namespace": "team-a"}, false},
		{"allow", "events_list", map[string]any{"namespace": "team-b"}, true},
		{"allow", "pods_log", map[string]any{"namespace": "team-a", "name": "checkout-1"}, false},
		{"allow", "pods_log", map[string]any{"namespace": "team-b", "name": "payments-1"}, true},
		{"allow", "rollout_status", deploy, false},
		{"allow", "rollout_status", missing, true},
		{"allow", "rollout_history", deploy, false},
		{"allow", "rollout_history", map[string]any{"kind": "cronjob", "name": "x"}, true},
		{"allow", "api_resources", map[string]any{"apiGroup": "apps"}, false},
		{"allow", "api_resources", map[string]any{"namespaced": "yes"}, true},
		{"allow", "auth_can_i", map[string]any{"verb": "list", "resource": "pods", "namespace": "team-a"}, false},
		{"allow", "auth_can_i", map[string]any{}, true},
		{"allow", "resources_apply", map[string]any{"manifest": cm("team-a")}, false},
		{"allow", "resources_apply", map[string]any{"manifest": cm("team-b")}, true},
		{"read-only", "resources_apply", map[string]any{"manifest": cm("team-a")}, true},
		{"propose", "resources_apply", map[string]any{"manifest": cm("team-a")}, true},
		{"allow", "resources_patch", map[string]any{"resource": "configmaps", "namespace": "team-a", "name": "schema-cm", "patch": `{"data":{"a":"c"}}`}, false},
		{"allow", "resources_patch", map[string]any{"resource": "configmaps", "namespace": "team-a", "name": "nope", "patch": `{"data":{"a":"c"}}`}, true},
		{"allow", "resources_scale", map[string]any{"resource": "deployments", "namespace": "team-a", "name": "schema-web", "replicas": 2}, false},
		{"allow", "resources_scale", map[string]any{"resource": "deployments", "namespace": "team-a", "name": "schema-web", "replicas": -1}, true},
		{"allow", "rollout_restart", deploy, false},
		{"allow", "rollout_restart", missing, true},
		{"allow", "resources_delete", map[string]any{"resource": "configmaps", "namespace": "team-a", "name": "schema-cm"}, false},
		{"allow", "resources_delete", map[string]any{"resource": "configmaps", "namespace": "team-a", "name": "schema-cm"}, true},
		{"allow", "kubectl", map[string]any{"args": []string{"get", "pods", "-n", "team-a"}}, false},
		{"allow", "kubectl", map[string]any{"args": []string{"get", "pods", "-n", "team-b"}}, true},
		{"read-only", "kubectl", map[string]any{"args": []string{"config", "view"}}, true},
		{"read-only", "kubectl", map[string]any{"args": []string{"delete", "pod", "checkout-1", "-n", "team-a"}}, true},
		{"read-only", "ask", map[string]any{"prompt": answered, "namespace": "team-a"}, false},
		{"read-only", "ask", map[string]any{"prompt": failing, "namespace": "team-a"}, true},
		{"read-only", "ask", map[string]any{"prompt": "anything", "namespace": "team-b-nope"}, true},
		{"read-only", "ask", map[string]any{"prompt": "anything", "mode": "Auto"}, true},
		{"read-only", "ask", map[string]any{"namespace": "team-a"}, true},
		{"read-only", "ask", map[string]any{"prompt": "x", "bogus": true}, true},
		{"propose", "ask", map[string]any{"prompt": proposed, "namespace": "team-a", "mode": "Propose", "profile": "operate"}, false},
		{"ask-now", "ask", map[string]any{"prompt": answered + " later", "namespace": "team-a"}, false},
		{"read-only", "sessions_list", map[string]any{"namespace": "team-a"}, false},
		{"read-only", "sessions_list", map[string]any{"namespace": "team-b"}, true},
		{"read-only", "sessions_list", map[string]any{"bogus": 1}, true},
		{"read-only", "triggers_list", map[string]any{"namespace": "team-a"}, false},
		{"read-only", "triggers_list", map[string]any{"allNamespaces": true}, true},
		{"read-only", "triggers_list", map[string]any{"namespace": 7}, true},
	} {
		cs := sessions[tc.server]
		res, err := cs.CallTool(ctx(t), &mcp.CallToolParams{Name: tc.tool, Arguments: tc.args})
		if err != nil {
			t.Fatalf("%s %v on %s: %v", tc.tool, tc.args, tc.server, err)
		}
		if res.IsError != tc.wantError {
			t.Errorf("%s %v on %s: isError=%v, want %v:\n%s", tc.tool, tc.args, tc.server, res.IsError, tc.wantError, resultText(res))
		}
		checkResult(t, cs, tc.tool, res)
		covered[coverKey{tc.tool, res.IsError}] = true
	}
	// The validator is no rubber stamp: what the endpoint used to return for a failed
	// ask or sessions_list does not pass.
	schemas := outputSchemasOf(t, sessions["read-only"])
	for _, tool := range []string{"ask", "sessions_list", "triggers_list"} {
		if err := schemas[tool].Validate(map[string]any{"text": "forbidden: ..."}); err == nil {
			t.Errorf("%s: {\"text\": ...} passes its output schema", tool)
		}
	}
	for name := range outputSchemasOf(t, sessions["allow"]) {
		for _, isErr := range []bool{false, true} {
			if !covered[coverKey{name, isErr}] {
				t.Errorf("%s: no %s result checked; add one to this test", name, map[bool]string{false: "successful", true: "error"}[isErr])
			}
		}
	}
}

// kubectlPath is the kubectl binary built with the control plane.
func kubectlPath(t testing.TB) string {
	t.Helper()
	dirs := []string{os.Getenv("KUBEBUILDER_ASSETS")}
	if root, err := testcluster.RepoRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, "bin", "k8s", testcluster.K8sVersion))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Join(d, "kubectl")); err == nil && fi.Mode().IsRegular() {
			return filepath.Join(d, "kubectl")
		}
	}
	t.Fatalf("no kubectl binary in $KUBEBUILDER_ASSETS or bin/k8s/%s: run `make controlplane`", testcluster.K8sVersion)
	return ""
}
