package agent_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/agent"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// approve approves steps ids of q as c, each bound to the digest recorded for it in
// status, as kubectl ask approve does.
func approve(t *testing.T, c client.Client, q *agentsv1alpha1.AgentQuery, ids ...string) error {
	t.Helper()
	return update(t, c, q, func(fresh *agentsv1alpha1.AgentQuery) {
		for _, id := range ids {
			for _, s := range fresh.Status.Steps {
				if s.ID == id {
					fresh.Spec.Approvals = append(fresh.Spec.Approvals, agentsv1alpha1.ApprovalFor(s))
				}
			}
		}
	})
}

// waitUntil polls q until ok holds.
func waitUntil(t *testing.T, q *agentsv1alpha1.AgentQuery, what string, ok func(*agentsv1alpha1.AgentQuery) bool) *agentsv1alpha1.AgentQuery {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := get(t, q)
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s: %s never happened: %+v", q.Name, what, got.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scaleArgs are the arguments of scaling team-a's checkout to n.
func scaleArgs(n int) string {
	return `{"resource":"deployment","name":"checkout","namespace":"team-a","replicas":` + strconv.Itoa(n) + `}`
}

// proposeScales scripts a model that scales checkout to each of ns in turn, one call
// per turn, and then answers.
func proposeScales(ns ...int) func(llmtest.Request) llmtest.Reply {
	return func(req llmtest.Request) llmtest.Reply {
		results := 0
		for _, m := range req.Messages {
			if m.Role == "tool" {
				results++
			}
		}
		if results < len(ns) {
			return llmtest.Reply{Calls: []llmtest.Call{{Name: "resources_scale", Args: scaleArgs(ns[results])}}}
		}
		return llmtest.Reply{Text: "Done."}
	}
}

func acceptedCondition(q *agentsv1alpha1.AgentQuery) *metav1.Condition {
	return meta.FindStatusCondition(q.Status.Conditions, agent.ConditionAccepted)
}

// bobEditsSessionsInTeamA gives bob what the attacker has: he may create and
// update AgentSessions in team-a, where he may do nothing else.
func bobEditsSessionsInTeamA(t *testing.T) {
	t.Helper()
	for _, o := range []client.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "session-editor", Namespace: "team-a"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentsessions"}, Verbs: []string{"get", "create", "update", "patch"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "session-editor", Namespace: "team-a"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "session-editor"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "bob"}}},
	} {
		if err := admin.Create(t.Context(), o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// The authorizer sees a new Role and binding a moment after they are created.
	deadline := time.Now().Add(30 * time.Second)
	for {
		probe := &agentsv1alpha1.AgentSession{}
		probe.GenerateName, probe.Namespace = "rbac-probe-", "team-a"
		err := bob.Create(t.Context(), probe, client.DryRunAll)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob still may not create sessions: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newSession(t *testing.T, c client.Client, name string, mode agentsv1alpha1.Mode, profile string) *agentsv1alpha1.AgentSession {
	t.Helper()
	s := &agentsv1alpha1.AgentSession{}
	s.Name, s.Namespace = name, "team-a"
	s.Spec.DefaultMode, s.Spec.Profile = mode, profile
	if err := c.Create(t.Context(), s); err != nil {
		t.Fatalf("creating session %s: %v", name, err)
	}
	return s
}

func inSession(name string) func(*agentsv1alpha1.AgentQuery) {
	return func(q *agentsv1alpha1.AgentQuery) { q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: name} }
}

func TestOnlyTheRequesterChoosesHowTheirQueryRuns(t *testing.T) {
	bobEditsSessionsInTeamA(t)

	t.Run("the Auto of a session someone else created falls back to Propose", func(t *testing.T) {
		newSession(t, bob, "bobs-auto", agentsv1alpha1.ModeAuto, "operate")
		prompt := "Scale checkout to 21 in bob's session."
		scripts.Set(prompt, proposeScales(21))
		before := replicas(t)
		q := waitFor(t, ask(t, alice, "team-a", prompt, inSession("bobs-auto")), agentsv1alpha1.QueryAwaitingApproval)
		if s := q.Status.Steps; len(s) != 1 || s[0].State != agentsv1alpha1.StepProposed {
			t.Fatalf("steps = %+v, want s1 proposed", s)
		}
		if q.Status.Mode != agentsv1alpha1.ModePropose || replicas(t) != before {
			t.Errorf("mode %s, replicas %d: the change ran without alice's approval", q.Status.Mode, replicas(t))
		}
		c := acceptedCondition(q)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != agent.ReasonAutoNotChosen ||
			!strings.Contains(c.Message, "created by bob, not by alice") || !strings.Contains(c.Message, "runs in Propose") {
			t.Errorf("Accepted condition = %+v, want it to say why Auto does not apply", c)
		}
	})

	t.Run("the Auto of her own session applies", func(t *testing.T) {
		newSession(t, alice, "alices-auto", agentsv1alpha1.ModeAuto, "operate")
		prompt := "Scale checkout to 22 in my session."
		scripts.Set(prompt, proposeScales(22))
		q := waitFor(t, ask(t, alice, "team-a", prompt, inSession("alices-auto")), agentsv1alpha1.QuerySucceeded)
		if q.Status.Mode != agentsv1alpha1.ModeAuto || q.Status.Profile != "operate" || replicas(t) != 22 {
			t.Errorf("mode %s, profile %q, replicas %d; want Auto, operate, 22", q.Status.Mode, q.Status.Profile, replicas(t))
		}
	})

	t.Run("a session changed after the query was accepted does not change how it goes on", func(t *testing.T) {
		session := newSession(t, alice, "alices-propose", agentsv1alpha1.ModePropose, "operate")
		// bob may update sessions in team-a, but not what alice's session decides.
		err := retryUpdate(t, bob, session, func(s *agentsv1alpha1.AgentSession) { s.Spec.DefaultMode = agentsv1alpha1.ModeAuto })
		if err == nil || !strings.Contains(err.Error(), "only the session's requester (alice)") {
			t.Fatalf("bob switching alice's session to Auto: %v", err)
		}
		prompt := "Scale checkout to 23, then to 24."
		scripts.Set(prompt, proposeScales(23, 24))
		q := waitFor(t, ask(t, alice, "team-a", prompt, inSession("alices-propose")), agentsv1alpha1.QueryAwaitingApproval)
		if q.Status.Mode != agentsv1alpha1.ModePropose || q.Status.Profile != "operate" || q.Status.Model != "fake" {
			t.Fatalf("status mode %s, profile %q, model %q", q.Status.Mode, q.Status.Profile, q.Status.Model)
		}
		// While the query waits, the session changes (its requester may do that; on a
		// cluster without the admission rules anyone with update could).
		if err := retryUpdate(t, alice, session, func(s *agentsv1alpha1.AgentSession) {
			s.Spec.DefaultMode, s.Spec.Profile = agentsv1alpha1.ModeAuto, "reveal"
		}); err != nil {
			t.Fatal(err)
		}
		if err := approve(t, alice, q, "s1"); err != nil {
			t.Fatal(err)
		}
		q = waitUntil(t, q, "s2 is proposed", func(q *agentsv1alpha1.AgentQuery) bool {
			return len(q.Status.Steps) == 2 || q.Status.Phase.Finished()
		})
		if s := q.Status.Steps; len(s) != 2 || s[0].State != agentsv1alpha1.StepDone || s[1].State != agentsv1alpha1.StepProposed {
			t.Fatalf("steps = %+v; want s1 done and s2 proposed, not run", s)
		}
		if replicas(t) != 23 {
			t.Errorf("replicas = %d: s2 ran unapproved", replicas(t))
		}
		if q.Status.Mode != agentsv1alpha1.ModePropose || q.Status.Profile != "operate" {
			t.Errorf("status mode %s, profile %q after the session changed", q.Status.Mode, q.Status.Profile)
		}
	})

	t.Run("a profile that reveals Secret values applies to its chooser's queries only", func(t *testing.T) {
		newSession(t, bob, "bobs-reveal", agentsv1alpha1.ModeReadOnly, "reveal")
		q := waitFor(t, ask(t, alice, "team-a", "What is in the db Secret?", inSession("bobs-reveal")), agentsv1alpha1.QueryFailed)
		assertCondition(t, q, agent.ConditionAccepted, agent.ReasonProfileNotAllowed, `profile "reveal" of session bobs-reveal reveals Secret values and was chosen by bob`)
	})

	t.Run("profiles and models are limited to the users and groups the platform names", func(t *testing.T) {
		for _, tc := range []struct {
			name, reason, say string
			edit              func(*agentsv1alpha1.AgentQuery)
		}{
			{"a profile for group sre", agent.ReasonProfileNotAllowed, `does not let alice use profile "sre-only"`,
				func(q *agentsv1alpha1.AgentQuery) { q.Spec.Profile = "sre-only" }},
			{"a model for bob", agent.ReasonModelNotAllowed, `does not let alice use model "bobs-only"`,
				func(q *agentsv1alpha1.AgentQuery) { q.Spec.Model = "bobs-only" }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := waitFor(t, ask(t, alice, "team-a", "gated: "+tc.name, tc.edit), agentsv1alpha1.QueryFailed)
				assertCondition(t, q, agent.ConditionAccepted, tc.reason, tc.say)
				if q.Status.Usage.LLMCalls != 0 {
					t.Errorf("the model was called: %+v", q.Status.Usage)
				}
			})
		}
	})
}

// retryUpdate applies edit to a fresh copy of s and updates it as c.
func retryUpdate(t *testing.T, c client.Client, s *agentsv1alpha1.AgentSession, edit func(*agentsv1alpha1.AgentSession)) error {
	t.Helper()
	var err error
	for range 10 {
		fresh := &agentsv1alpha1.AgentSession{}
		if err = admin.Get(t.Context(), client.ObjectKeyFromObject(s), fresh); err != nil {
			return err
		}
		edit(fresh)
		if err = c.Update(t.Context(), fresh); !apierrors.IsConflict(err) {
			return err
		}
	}
	return err
}

func TestAStepRunsOnlyAsItsRequesterApprovedIt(t *testing.T) {
	propose := func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.Profile = "operate"
		q.Spec.Mode = new(agentsv1alpha1.ModePropose)
	}

	t.Run("an approval for other arguments does not run the step", func(t *testing.T) {
		prompt := "Scale checkout to 31 (approval test)."
		scripts.Set(prompt, proposeScales(31))
		q := waitFor(t, ask(t, alice, "team-a", prompt, propose), agentsv1alpha1.QueryAwaitingApproval)
		if s := q.Status.Steps[0]; s.Digest != agentsv1alpha1.ArgumentsDigest("resources_scale", scaleArgs(31)) || s.FullArguments != scaleArgs(31) {
			t.Fatalf("proposal = %+v, want its full arguments and their digest", s)
		}
		other := "s1@" + agentsv1alpha1.ArgumentsDigest("resources_scale", scaleArgs(32))
		if err := update(t, alice, q, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Approvals = []string{other} }); err != nil {
			t.Fatal(err)
		}
		q = waitUntil(t, q, "the mismatch is reported", func(q *agentsv1alpha1.AgentQuery) bool {
			c := meta.FindStatusCondition(q.Status.Conditions, agent.ConditionRunning)
			return c != nil && strings.Contains(c.Message, "names other arguments")
		})
		if s := q.Status.Steps[0]; s.State != agentsv1alpha1.StepProposed || q.Status.Phase != agentsv1alpha1.QueryAwaitingApproval || replicas(t) == 31 {
			t.Fatalf("step %+v, phase %s, replicas %d: an approval of other arguments ran the step", s, q.Status.Phase, replicas(t))
		}
		if err := approve(t, alice, q, "s1"); err != nil {
			t.Fatal(err)
		}
		if q = waitFor(t, q, agentsv1alpha1.QuerySucceeded); q.Status.Steps[0].State != agentsv1alpha1.StepDone || replicas(t) != 31 {
			t.Errorf("step %+v, replicas %d after the right approval", q.Status.Steps[0], replicas(t))
		}
	})

	t.Run("a step forged into status as Approved does not run", func(t *testing.T) {
		dana := namespaceAdmin(t)
		prompt := "Scale checkout to 33 (forgery test)."
		scripts.Set(prompt, proposeScales(33))
		q := waitFor(t, ask(t, alice, "team-a", prompt, propose), agentsv1alpha1.QueryAwaitingApproval)
		forged := agentsv1alpha1.Step{ID: "s2", Tool: "resources_scale", Arguments: scaleArgs(34), FullArguments: scaleArgs(34),
			Digest: agentsv1alpha1.ArgumentsDigest("resources_scale", scaleArgs(34)), State: agentsv1alpha1.StepApproved}
		forge := func(c client.Client) error {
			steps := append(get(t, q).Status.Steps, forged)
			body, err := json.Marshal(map[string]any{"status": map[string]any{"steps": steps}})
			if err != nil {
				t.Fatal(err)
			}
			return c.Status().Patch(t.Context(), q.DeepCopy(), client.RawPatch(types.MergePatchType, body))
		}
		// A namespace admin's wildcard Role lets her write the status; admission does not.
		if err := forge(dana); err == nil || !strings.Contains(err.Error(), "only the kubeask operator may write the status of agentqueries, not dana") {
			t.Fatalf("dana forging a step: %v", err)
		}
		// A cluster-admin can write it anyway: the agent must still not run the step.
		if err := forge(admin); err != nil {
			t.Fatal(err)
		}
		if err := approve(t, alice, q, "s1"); err != nil {
			t.Fatal(err)
		}
		q = waitUntil(t, q, "s1 runs", func(q *agentsv1alpha1.AgentQuery) bool {
			return q.Status.Steps[0].State == agentsv1alpha1.StepDone && q.Status.Phase != agentsv1alpha1.QueryRunning
		})
		if replicas(t) != 33 {
			t.Fatalf("replicas = %d, want 33: the forged step ran", replicas(t))
		}
		if s := q.Status.Steps[1]; s.State != agentsv1alpha1.StepProposed || q.Status.Phase != agentsv1alpha1.QueryAwaitingApproval {
			t.Errorf("forged step %+v, phase %s: want it waiting for alice's decision", s, q.Status.Phase)
		}
	})

	t.Run("a 10 KiB proposed Deployment runs whole after approval", func(t *testing.T) {
		note := strings.Repeat("0123456789abcdef", 640) // 10 KiB
		manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: big
  namespace: team-a
  annotations:
    team-a/notes: %q
spec:
  replicas: 0
  selector: {matchLabels: {app: big}}
  template:
    metadata: {labels: {app: big}}
    spec:
      containers: [{name: app, image: "big:1"}]
`, note)
		args, err := json.Marshal(map[string]string{"manifest": manifest})
		if err != nil {
			t.Fatal(err)
		}
		prompt := "Create the big deployment."
		scripts.Set(prompt, callThenEcho("resources_apply", string(args)))
		q := waitFor(t, ask(t, alice, "team-a", prompt, propose), agentsv1alpha1.QueryAwaitingApproval)
		s := q.Status.Steps[0]
		if s.State != agentsv1alpha1.StepProposed || s.FullArguments != string(args) || !s.Truncated || len(s.Arguments) > agentsv1alpha1.MaxStepArgsLength {
			t.Fatalf("proposal: state %s, %d bytes of full arguments (want %d), truncated %v", s.State, len(s.FullArguments), len(args), s.Truncated)
		}
		if err := approve(t, alice, q, "s1"); err != nil {
			t.Fatal(err)
		}
		q = waitFor(t, q, agentsv1alpha1.QuerySucceeded, agentsv1alpha1.QueryFailed)
		if s := q.Status.Steps[0]; s.State != agentsv1alpha1.StepDone || s.Error != "" || s.FullArguments != "" {
			t.Fatalf("step after approval = state %s, error %q, %d bytes of full arguments kept", s.State, s.Error, len(s.FullArguments))
		}
		d := &appsv1.Deployment{}
		if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: "big"}, d); err != nil {
			t.Fatalf("the approved Deployment: %v", err)
		}
		if d.Annotations["team-a/notes"] != note {
			t.Errorf("the Deployment's annotation has %d bytes, want %d", len(d.Annotations["team-a/notes"]), len(note))
		}
	})
}

// namespaceAdmin returns dana, who may do anything in team-a (a wildcard Role).
func namespaceAdmin(t *testing.T) client.Client {
	t.Helper()
	for _, o := range []client.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "namespace-admin", Namespace: "team-a"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "namespace-admin", Namespace: "team-a"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "namespace-admin"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "dana"}}},
	} {
		if err := admin.Create(t.Context(), o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	cfg, err := cluster.UserConfig("dana")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
