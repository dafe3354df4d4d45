package mcp_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// createTriggerAs creates tr with token's user as the client, so that admission stamps
// that user as the requester, as it does for a real author.
func createTriggerAs(t *testing.T, f *fixture, token string, tr *agentsv1alpha1.AgentTrigger) {
	t.Helper()
	c, err := f.cluster.Client(&rest.Config{Host: f.cluster.Admin.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: f.cluster.Admin.CAData}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(t.Context(), tr); err != nil {
		t.Fatalf("creating trigger %s/%s: %v", tr.Namespace, tr.Name, err)
	}
	t.Cleanup(func() { _ = f.admin.Delete(context.Background(), tr) })
}

// waitTriggerReady waits until the operator has judged tr ready to fire, and returns
// the Ready condition's message.
func waitTriggerReady(t *testing.T, f *fixture, tr *agentsv1alpha1.AgentTrigger) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := &agentsv1alpha1.AgentTrigger{}
		if err := f.admin.Get(t.Context(), client.ObjectKeyFromObject(tr), got); err != nil {
			t.Fatal(err)
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, "Ready"); c != nil && c.Status == metav1.ConditionTrue {
			return c.Message
		}
		if time.Now().After(deadline) {
			t.Fatalf("trigger %s/%s is not ready after 60s: %+v", tr.Namespace, tr.Name, got.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// triggers_list lists AgentTriggers as the caller: RBAC decides what each caller sees,
// and a namespace they may not read is a readable tool error, never the operator's view.
func TestTriggersList(t *testing.T) {
	f := env(t)
	ctx := t.Context()
	crash := &agentsv1alpha1.AgentTrigger{
		ObjectMeta: metav1.ObjectMeta{Name: "mcp-crashloop", Namespace: "team-a"},
		Spec: agentsv1alpha1.AgentTriggerSpec{
			Events: &agentsv1alpha1.EventSource{Reasons: []string{"BackOff"},
				InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{Kinds: []string{"Pod"}, NamePatterns: []string{"checkout-*"}}},
			Query: agentsv1alpha1.QueryTemplate{Prompt: "why is {{.Object}} crash-looping?"},
		},
	}
	createTriggerAs(t, f, aliceToken, crash)
	nightly := &agentsv1alpha1.AgentTrigger{
		ObjectMeta: metav1.ObjectMeta{Name: "mcp-nightly", Namespace: "team-b"},
		Spec: agentsv1alpha1.AgentTriggerSpec{
			Schedule: &agentsv1alpha1.ScheduleSource{Cron: "0 3 * * *", TimeZone: "Europe/Paris"},
			Query:    agentsv1alpha1.QueryTemplate{Prompt: "summarize the warnings in team-b"},
			Suspend:  true,
		},
	}
	createTriggerAs(t, f, bobToken, nightly)
	readyMessage := waitTriggerReady(t, f, crash)
	waitTriggerReady(t, f, nightly)
	// What firing would have recorded (no Warning event fires it here), written as a
	// merge patch so that it neither conflicts with nor undoes the operator's writes.
	now := metav1.Now().UTC().Format(time.RFC3339)
	patch := []byte(`{"status":{"fired":2,"lastFireTime":"` + now + `","lastQuery":"mcp-crashloop-q2"}}`)
	if err := f.admin.Status().Patch(ctx, crash, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}

	alice := connect(t, f.endpoint, aliceToken, nil)
	res := callToolResult(t, alice, "triggers_list", nil) // the default namespace: team-a
	text := resultText(res)
	if res.IsError || !strings.Contains(text, "team-a/mcp-crashloop") || strings.Contains(text, "mcp-nightly") {
		t.Fatalf("alice listing team-a: error=%v\n%s", res.IsError, text)
	}
	var got map[string]any
	for _, it := range structured(t, res)["triggers"].([]any) {
		if m := it.(map[string]any); m["name"] == "mcp-crashloop" {
			got = m
		}
	}
	want := map[string]any{
		"namespace": "team-a", "name": "mcp-crashloop", "source": "events BackOff on Pod (checkout-*)", "requester": "alice",
		"suspended": false, "ready": "True", "readyMessage": readyMessage, "fired": float64(2),
		"lastFireTime": now, "lastQuery": "mcp-crashloop-q2",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("structured %s = %#v, want %#v (all: %v)", k, got[k], v, got)
		}
	}

	for _, args := range []map[string]any{{"namespace": "team-b"}, {"allNamespaces": true}} {
		text, isErr := callTool(t, alice, "triggers_list", args)
		if !isErr || !strings.Contains(text, "forbidden") || strings.Contains(text, "mcp-nightly") {
			t.Errorf("alice listing %v: want a forbidden tool error, got error=%v:\n%s", args, isErr, text)
		}
	}
	bob := connect(t, f.endpoint, bobToken, nil)
	text, isErr := callTool(t, bob, "triggers_list", map[string]any{"namespace": "team-b"})
	if isErr || !strings.Contains(text, `team-b/mcp-nightly source="cron 0 3 * * * (Europe/Paris)" requester=bob suspended=true ready=True fired=0`) ||
		strings.Contains(text, "mcp-crashloop") {
		t.Errorf("bob listing team-b: error=%v\n%s", isErr, text)
	}
	if text, isErr := callTool(t, bob, "triggers_list", map[string]any{"namespaces": "team-b"}); !isErr || !strings.Contains(text, "invalid arguments") {
		t.Errorf("an unknown argument: error=%v\n%s", isErr, text)
	}

	data, err := os.ReadFile(f.auditFile)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, rec := range parseAudit(t, string(data)) {
		if rec["tool"] == "triggers_list" && rec["user"] == "alice" {
			outcomes = append(outcomes, rec["outcome"].(string))
			if k, _ := rec["kubernetes"].([]any); len(k) == 0 || k[0].(map[string]any)["resource"] != "agenttriggers" {
				t.Errorf("audit line without the list of agenttriggers: %v", rec)
			}
		}
	}
	if !strings.Contains(strings.Join(outcomes, ","), "ok") || !strings.Contains(strings.Join(outcomes, ","), "forbidden") {
		t.Errorf("alice's triggers_list audit outcomes: %v", outcomes)
	}
}

// callToolResult calls a tool and returns its whole result.
func callToolResult(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(ctx(t), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("calling %s: %v", name, err)
	}
	return res
}

func structured(t *testing.T, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	m, ok := res.StructuredContent.(map[string]any)
	if !ok {
		t.Fatalf("structured content is %T", res.StructuredContent)
	}
	return m
}
