package admission_test

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// Approvals in the form the API requires: a step id bound to the digest of its arguments.
var (
	approvalS1 = "s1@sha256:" + strings.Repeat("1", 64)
	approvalS3 = "s3@sha256:" + strings.Repeat("3", 64)
)

// updateSession applies edit to a fresh copy of s (read as reader) and updates it as c,
// retrying when the operator's session controller wrote it meanwhile.
func updateSession(t *testing.T, reader, c client.Client, s *agentsv1alpha1.AgentSession, edit func(*agentsv1alpha1.AgentSession)) error {
	t.Helper()
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		fresh := get(t, reader, s)
		edit(fresh)
		return c.Update(t.Context(), fresh)
	})
}

// patchStatus merge-patches the status of o as c.
func patchStatus(t *testing.T, c client.Client, o client.Object, status any) error {
	t.Helper()
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		t.Fatal(err)
	}
	return c.Status().Patch(t.Context(), o, client.RawPatch(types.MergePatchType, body))
}

// runTrustScenarios checks the rules that keep others from choosing how a person's
// queries run: a session's model, profile and defaultMode are its requester's to change,
// only the operator writes status, and approvals name the arguments they approve.
func runTrustScenarios(t *testing.T, u users) {
	session := &agentsv1alpha1.AgentSession{}
	session.Name, session.Namespace = "alices-incident", "team-a"
	session.Spec.DefaultMode = agentsv1alpha1.ModePropose
	create(t, u.alice, session)
	q := newQuery("alices-change", "scale checkout to 3")
	q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: "shared"}
	create(t, u.alice, q)

	t.Run("only the session's requester may change its model, profile or defaultMode", func(t *testing.T) {
		for what, edit := range map[string]func(*agentsv1alpha1.AgentSession){
			"defaultMode": func(s *agentsv1alpha1.AgentSession) { s.Spec.DefaultMode = agentsv1alpha1.ModeAuto },
			"profile":     func(s *agentsv1alpha1.AgentSession) { s.Spec.Profile = "reveal-secrets" },
			"model":       func(s *agentsv1alpha1.AgentSession) { s.Spec.Model = "bobs-model" },
		} {
			for name, c := range map[string]client.Client{"bob": u.bob, "dana": u.dana} {
				expectDenied(t, updateSession(t, u.admin, c, session, edit),
					"only the session's requester (alice) may change its model, profile or defaultMode, not "+name, name+" changing the "+what)
			}
		}
		if got := get(t, u.admin, session).Spec; got.DefaultMode != agentsv1alpha1.ModePropose || got.Profile != "" || got.Model != "" {
			t.Errorf("session spec = %+v after others' attempts", got)
		}
		// The rest of the session is not the rule's business.
		if err := updateSession(t, u.admin, u.bob, session, func(s *agentsv1alpha1.AgentSession) { s.Spec.HistoryLimit = new(int32(3)) }); err != nil {
			t.Errorf("bob changing the history limit: %v", err)
		}
		if err := updateSession(t, u.admin, u.alice, session, func(s *agentsv1alpha1.AgentSession) {
			s.Spec.DefaultMode, s.Spec.Profile, s.Spec.Model = agentsv1alpha1.ModeAuto, "operate", "fast"
		}); err != nil {
			t.Errorf("alice changing her own session: %v", err)
		}
	})

	t.Run("only the operator may write the status of queries and sessions", func(t *testing.T) {
		forged := map[string]any{
			"phase": "AwaitingApproval",
			"steps": []map[string]any{{"id": "s1", "tool": "kubectl", "state": "Approved",
				"arguments": `{"args":["delete","namespace","team-a"]}`}},
		}
		for name, c := range map[string]client.Client{"dana": u.dana, "bob": u.bob} {
			err := patchStatus(t, c, q, forged)
			if name == "bob" {
				// bob has no RBAC grant on the status at all: RBAC refuses him first.
				if err == nil {
					t.Errorf("bob wrote a query's status")
				}
				continue
			}
			expectDenied(t, err, "only the kubeask operator may write the status of agentqueries, not dana", "dana forging a query's status")
			expectDenied(t, patchStatus(t, c, session, map[string]any{"participants": []string{"mallory"}}),
				"only the kubeask operator may write the status of agentsessions, not dana", "dana forging a session's status")
		}
		if s := get(t, u.admin, q).Status.Steps; len(s) != 0 {
			t.Fatalf("forged steps were stored: %+v", s)
		}
		if err := patchStatus(t, u.operator, q, map[string]any{"phase": "Pending"}); err != nil {
			t.Errorf("the operator writing a query's status: %v", err)
		}
		if err := patchStatus(t, u.operator, session, map[string]any{"queries": 1}); err != nil {
			t.Errorf("the operator writing a session's status: %v", err)
		}
		// Anything else about the query is not this rule's business.
		if err := updateQuery(t, u.admin, u.dana, q, func(q *agentsv1alpha1.AgentQuery) {
			if q.Labels == nil {
				q.Labels = map[string]string{}
			}
			q.Labels["team"] = "a"
		}); err != nil {
			t.Errorf("dana labelling a query: %v", err)
		}
	})

	t.Run("an approval names the digest of the arguments it approves", func(t *testing.T) {
		err := updateQuery(t, u.admin, u.alice, q, func(q *agentsv1alpha1.AgentQuery) { q.Spec.Approvals = []string{"s1"} })
		expectDenied(t, err, "each approval is <step id>@<digest of the step's arguments>", "a bare step id as an approval")
		if err := updateQuery(t, u.admin, u.alice, q, func(q *agentsv1alpha1.AgentQuery) {
			q.Spec.Approvals, q.Spec.Denials = []string{approvalS1}, []string{"s1"}
		}); err == nil || !strings.Contains(err.Error(), "a step cannot be both approved and denied") {
			t.Errorf("approving and denying s1 at once: %v", err)
		}
	})
}
