package askcli_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// kubectl ask cancel sets spec.cancel as the user: only the requester may, a finished
// query is not touched, and every refusal says why with its exit code.
func TestCancel(t *testing.T) {
	t.Parallel()
	prompt := "Create the ConfigMap cancel-me, then tell me."
	scripts.Set(prompt, callThen("resources_apply",
		`{"manifest":"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cancel-me\n  namespace: team-a\n"}`,
		func(res string) string { return "Applied: " + res }))
	r := kubectlAsk(t, "alice", "", "--mode", "Propose", "--profile", "operate", prompt)
	m := approveHint.FindStringSubmatch(r.errOut)
	if r.code != exitcode.AwaitingApproval || m == nil {
		t.Fatalf("want exit 3 and an approve hint\n%s", r)
	}
	name := m[1]
	cancelled := func() bool {
		t.Helper()
		q := &agentsv1alpha1.AgentQuery{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: name}, q); err != nil {
			t.Fatal(err)
		}
		return q.Spec.Cancel
	}

	t.Run("bob, who may patch every query of team-a, is not the requester", func(t *testing.T) {
		r := kubectlAsk(t, "bob", "", "cancel", name)
		if r.code != exitcode.Failed {
			t.Fatalf("want exit 1\n%s", r)
		}
		mustContain(t, r, "stderr", "only the query's requester (alice) may cancel it, not bob")
		if cancelled() {
			t.Fatal("bob cancelled alice's query")
		}
	})
	t.Run("carol may only read queries", func(t *testing.T) {
		r := kubectlAsk(t, "carol", "", "cancel", name)
		if r.code != exitcode.Failed {
			t.Fatalf("want exit 1\n%s", r)
		}
		mustContain(t, r, "stderr", `User "carol" cannot patch resource "agentqueries"`)
		mustContain(t, r, "stderr", `You need the RBAC permission "patch" on agentqueries.agents.kubeask.dev in namespace team-a`)
		if cancelled() {
			t.Fatal("carol cancelled alice's query")
		}
	})
	t.Run("alice cancels her query", func(t *testing.T) {
		r := kubectlAsk(t, "alice", "", "cancel", name)
		if r.code != exitcode.Answered {
			t.Fatalf("want exit 0\n%s", r)
		}
		mustContain(t, r, "stdout", `agentquery.agents.kubeask.dev "`+name+`" cancelled`)
		mustContain(t, r, "stderr", "Query "+name+" (Create the ConfigMap cancel-me, then tell me., AwaitingApproval) is cancelled: it runs nothing more and ends Cancelled.")
		if !cancelled() {
			t.Fatal("spec.cancel is not set")
		}
		// The operator ends it: the proposal is denied, and the conditions say so.
		waitPhase(t, name, agentsv1alpha1.QueryCancelled)
		q := &agentsv1alpha1.AgentQuery{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: name}, q); err != nil {
			t.Fatal(err)
		}
		if len(q.Status.Steps) != 1 || q.Status.Steps[0].State != agentsv1alpha1.StepDenied {
			t.Errorf("steps = %+v, want s1 denied", q.Status.Steps)
		}
		for typ, want := range map[string]metav1.ConditionStatus{"Ready": metav1.ConditionFalse, "Complete": metav1.ConditionTrue, "Stalled": metav1.ConditionTrue, "Reconciling": metav1.ConditionFalse} {
			if c := meta.FindStatusCondition(q.Status.Conditions, typ); c == nil || c.Status != want || c.Reason != "Cancelled" {
				t.Errorf("condition %s = %+v, want %s/Cancelled", typ, c, want)
			}
		}
		// Again: the query is cancelled; nothing to do, and no error.
		r = kubectlAsk(t, "alice", "", "cancel", name)
		if r.code != exitcode.Answered || !strings.Contains(r.errOut, "already") {
			t.Fatalf("cancelling again: want exit 0 saying it already is\n%s", r)
		}
		if strings.Contains(r.out, "cancelled") {
			t.Errorf("cancelling again reported a new cancel on stdout\n%s", r)
		}
	})
	t.Run("a running query stops", func(t *testing.T) {
		prompt := "A question the model takes its time over, until it is cancelled."
		scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
			<-req.Context.Done() // until the run is stopped
			return llmtest.Reply{Text: "too late"}
		})
		r := kubectlAsk(t, "alice", "", "--wait=false", prompt)
		if r.code != exitcode.Answered {
			t.Fatalf("%s", r)
		}
		running := strings.TrimSpace(r.out)
		waitPhase(t, running, agentsv1alpha1.QueryRunning)
		r = kubectlAsk(t, "alice", "", "cancel", running)
		if r.code != exitcode.Answered {
			t.Fatalf("want exit 0\n%s", r)
		}
		mustContain(t, r, "stderr", "(A question the model takes its time over, until it is cancelled., Running) is cancelled: the run stops after the tool call in flight")
		waitPhase(t, running, agentsv1alpha1.QueryCancelled)
		// Following a cancelled query ends with the exit code of a cancelled query.
		r = kubectlAsk(t, "alice", "", "attach", running)
		if r.code != exitcode.Cancelled {
			t.Errorf("attach to the cancelled query: want exit 4\n%s", r)
		}
	})
	t.Run("a finished query has nothing to cancel", func(t *testing.T) {
		prompt := "Is there anything left to cancel?"
		scripts.Set(prompt, reply("No."))
		r := kubectlAsk(t, "alice", "", "--wait=false", prompt)
		if r.code != exitcode.Answered {
			t.Fatalf("%s", r)
		}
		done := strings.TrimSpace(r.out)
		waitPhase(t, done, agentsv1alpha1.QuerySucceeded)
		r = kubectlAsk(t, "alice", "", "cancel", done)
		if r.code != exitcode.Failed {
			t.Fatalf("want exit 1\n%s", r)
		}
		mustContain(t, r, "stderr", "error: query "+done+" already Succeeded; nothing to cancel")
		q := &agentsv1alpha1.AgentQuery{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: done}, q); err != nil {
			t.Fatal(err)
		}
		if q.Spec.Cancel {
			t.Error("spec.cancel was set on a finished query")
		}
	})
	t.Run("refusals before and without a query", func(t *testing.T) {
		r := kubectlAsk(t, "alice", "", "cancel", "no-such-query")
		if r.code != exitcode.Failed {
			t.Fatalf("not found: want exit 1\n%s", r)
		}
		mustContain(t, r, "stderr", "query no-such-query not found in namespace team-a; list the queries with: kubectl ask get -n team-a")
		for _, args := range [][]string{{"cancel"}, {"cancel", "a", "b"}, {"cancel", " "}} {
			if r := kubectlAsk(t, "alice", "", args...); r.code != exitcode.Usage {
				t.Errorf("%q: want exit 2\n%s", args, r)
			}
		}
		if r := kubectlAsk(t, "bare", "", "cancel", "q"); r.code != exitcode.NoOperator {
			t.Errorf("no operator: want exit 5\n%s", r)
		}
	})
	// The proposed change was never approved: a cancelled query never makes it.
	err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: "cancel-me"}, &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap cancel-me: %v, want not found", err)
	}
}
