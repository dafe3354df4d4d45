package controller_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/controller"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// catalogForTests is the platform catalog of the controller tests: one model, the
// built-in read-only profile as the default, and a profile that allows every mode.
func catalogForTests() (*catalog.Catalog, error) {
	return catalog.Parse([]byte(`
defaultModel: fast
models:
- name: fast
  provider: openai
  model: fast-model
  baseURL: http://127.0.0.1:9/v1
profiles:
- name: operate
  modes: [ReadOnly, Propose, Auto]
`))
}

func testCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalogForTests()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// installModes are the modes of the test installation (--allowed-mode): no Auto.
var installModes = []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose}

func TestSessionReady(t *testing.T) {
	cat := testCatalog(t)
	session := func(model, profile string, mode agentsv1alpha1.Mode) *agentsv1alpha1.AgentSession {
		s := &agentsv1alpha1.AgentSession{Spec: agentsv1alpha1.AgentSessionSpec{Model: model, Profile: profile, DefaultMode: mode}}
		s.Generation = 3
		return s
	}
	for _, tc := range []struct {
		name    string
		session *agentsv1alpha1.AgentSession
		cat     *catalog.Catalog
		modes   []agentsv1alpha1.Mode
		status  metav1.ConditionStatus
		reason  string
		message string
	}{
		{"the catalog's defaults", session("", "", ""), cat, installModes, metav1.ConditionTrue, "Ready",
			"the session's queries run with model fast, profile troubleshoot and mode ReadOnly unless they choose otherwise"},
		{"named model, profile and mode", session("fast", "operate", agentsv1alpha1.ModePropose), cat, installModes, metav1.ConditionTrue, "Ready",
			"model fast, profile operate and mode Propose"},
		{"Auto where the installation allows every mode", session("", "operate", agentsv1alpha1.ModeAuto), cat, nil, metav1.ConditionTrue, "Ready",
			"mode Auto unless they choose otherwise (Auto for its requester's queries only; others' run in Propose)"},
		{"no agent", session("", "", ""), nil, installModes, metav1.ConditionFalse, controller.ReasonAgentNotConfigured,
			"no model catalog (--config), so no agent runs"},
		{"unknown model", session("gpt-9", "", ""), cat, installModes, metav1.ConditionFalse, "UnknownModel",
			`spec.model: the model catalog has no model "gpt-9" (available: fast)`},
		{"unknown profile", session("", "root", ""), cat, installModes, metav1.ConditionFalse, "UnknownProfile",
			`spec.profile: the model catalog has no profile "root" (available: operate, troubleshoot)`},
		{"a mode the installation does not allow", session("", "operate", agentsv1alpha1.ModeAuto), cat, installModes, metav1.ConditionFalse, "ModeNotAllowed",
			"spec.defaultMode: this installation does not allow mode Auto: it allows [ReadOnly Propose]"},
		{"a mode the profile does not allow", session("", "", agentsv1alpha1.ModePropose), cat, installModes, metav1.ConditionFalse, "ModeNotAllowed",
			`spec.defaultMode: profile "troubleshoot" does not allow mode Propose (it allows [ReadOnly])`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := controller.SessionReady(tc.session, tc.cat, tc.modes)
			if c.Type != controller.ConditionReady || c.Status != tc.status || c.Reason != tc.reason || c.ObservedGeneration != 3 {
				t.Errorf("condition = %+v, want %s=%s/%s at generation 3", c, controller.ConditionReady, tc.status, tc.reason)
			}
			if !strings.Contains(c.Message, tc.message) {
				t.Errorf("message %q does not say %q", c.Message, tc.message)
			}
		})
	}
}

// The manager's session controller writes Ready from the catalog, and a change of the
// session's spec changes it.
func TestSessionReadyFollowsItsSpec(t *testing.T) {
	ns := newNamespace(t)
	s := &agentsv1alpha1.AgentSession{
		ObjectMeta: metav1.ObjectMeta{Name: "typo", Namespace: ns},
		Spec:       agentsv1alpha1.AgentSessionSpec{Requester: alice(), Model: "fsat"},
	}
	if err := k8s.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	ready := func(status metav1.ConditionStatus, reason string) func() error {
		return func() error {
			if err := k8s.Get(t.Context(), client.ObjectKeyFromObject(s), s); err != nil {
				return err
			}
			c := meta.FindStatusCondition(s.Status.Conditions, controller.ConditionReady)
			if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != s.Generation {
				return errors.New("Ready is " + condString(c))
			}
			return nil
		}
	}
	eventually(t, "Ready=False/UnknownModel", ready(metav1.ConditionFalse, "UnknownModel"))
	if c := meta.FindStatusCondition(s.Status.Conditions, controller.ConditionReady); !strings.Contains(c.Message, `no model "fsat"`) {
		t.Errorf("message %q does not name the model", c.Message)
	}
	base := s.DeepCopy()
	s.Spec.Model = "fast"
	if err := k8s.Patch(t.Context(), s, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Ready=True once the model is fixed", ready(metav1.ConditionTrue, controller.ReasonReady))
}

func condString(c *metav1.Condition) string {
	if c == nil {
		return "missing"
	}
	return string(c.Status) + "/" + c.Reason + ": " + c.Message
}

// A session's TTL never deletes it while one of its queries is Pending, Running or
// AwaitingApproval, whether the controller's cache holds that query or not yet; once
// the query is finished, the idle session goes.
//
// It runs on a cluster of its own, with the session controller alone: the other
// tests' query controller, which runs no agent, turns every unfinished query Pending.
// The controller's cache holds only queries labelled cached=yes; the others stand for
// queries created a moment ago that the cache has not seen yet. Its clock is two hours
// ahead, so every session is past its TTL of 60 s.
func TestTTLKeepsASessionWithAnUnfinishedQuery(t *testing.T) {
	c, err := testcluster.Start(testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	admin, err := c.Client(c.Admin)
	if err != nil {
		t.Fatal(err)
	}
	skip := true
	mgr, err := ctrl.NewManager(c.Admin, ctrl.Options{
		Scheme: c.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: &skip}, // TestMain's manager has one too
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&agentsv1alpha1.AgentQuery{}: {Label: labels.SelectorFromSet(labels.Set{"cached": "yes"})},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	r := &controller.AgentSessionReconciler{Client: mgr.GetClient(), Now: later, Catalog: testCatalog(t)}
	ctx, cancel := context.WithCancel(t.Context())
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache never synced")
	}
	const ns = "default"

	newSession := func(name string) *agentsv1alpha1.AgentSession {
		t.Helper()
		s := &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: agentsv1alpha1.AgentSessionSpec{Requester: alice(), TTLSecondsAfterIdle: new(int64(60))}}
		if err := admin.Create(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	newQuery := func(name, session string, cached bool) *agentsv1alpha1.AgentQuery {
		t.Helper()
		q := &agentsv1alpha1.AgentQuery{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: agentsv1alpha1.AgentQuerySpec{Prompt: "what now?", Requester: alice(), SessionRef: &agentsv1alpha1.SessionReference{Name: session}}}
		if cached {
			q.Labels = map[string]string{"cached": "yes"}
		}
		if err := admin.Create(t.Context(), q); err != nil {
			t.Fatal(err)
		}
		return q
	}
	setPhase := func(q *agentsv1alpha1.AgentQuery, phase agentsv1alpha1.QueryPhase) {
		t.Helper()
		st := map[string]any{"phase": phase}
		if phase.Finished() {
			st["completionTime"] = metav1.Now()
		}
		body, err := json.Marshal(map[string]any{"status": st})
		if err != nil {
			t.Fatal(err)
		}
		if err := admin.Status().Patch(t.Context(), q, client.RawPatch(types.MergePatchType, body)); err != nil {
			t.Fatal(err)
		}
		if q.Labels["cached"] != "yes" {
			return
		}
		eventually(t, "the cache sees "+q.Name+" "+string(phase), func() error {
			seen := &agentsv1alpha1.AgentQuery{}
			if err := mgr.GetClient().Get(t.Context(), client.ObjectKeyFromObject(q), seen); err != nil {
				return err
			}
			if seen.Status.Phase != phase {
				return errors.New("phase " + string(seen.Status.Phase))
			}
			return nil
		})
	}
	// reconcile runs the reconciler once, as the controller would, and reports whether
	// the session is still there.
	reconcile := func(s *agentsv1alpha1.AgentSession) (kept bool) {
		t.Helper()
		if _, err := r.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(s)}); err != nil {
			t.Fatalf("reconciling %s: %v", s.Name, err)
		}
		err := admin.Get(t.Context(), client.ObjectKeyFromObject(s), &agentsv1alpha1.AgentSession{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	// waitCached waits until the cache holds s and the queries labelled cached=yes.
	waitCached := func(s *agentsv1alpha1.AgentSession, queries ...*agentsv1alpha1.AgentQuery) {
		t.Helper()
		eventually(t, "the cache sees "+s.Name, func() error {
			if err := admin.Get(t.Context(), client.ObjectKeyFromObject(s), &agentsv1alpha1.AgentSession{}); apierrors.IsNotFound(err) {
				t.Fatalf("session %s was deleted, although it has an unfinished query", s.Name)
			}
			if err := mgr.GetClient().Get(t.Context(), client.ObjectKeyFromObject(s), &agentsv1alpha1.AgentSession{}); err != nil {
				return err
			}
			for _, q := range queries {
				if err := mgr.GetClient().Get(t.Context(), client.ObjectKeyFromObject(q), &agentsv1alpha1.AgentQuery{}); err != nil {
					return err
				}
			}
			return nil
		})
	}

	// Each query is created before its session: the manager's controller reconciles a
	// session as soon as it exists, and one without queries is idle past its TTL.
	t.Run("a query awaiting approval keeps its session until it ends", func(t *testing.T) {
		q := newQuery("awaiting-approval", "awaiting", true)
		s := newSession("awaiting")
		waitCached(s, q)
		setPhase(q, agentsv1alpha1.QueryAwaitingApproval)
		for range 3 {
			if !reconcile(s) {
				t.Fatal("the session was deleted while its query awaits approval")
			}
		}
		setPhase(q, agentsv1alpha1.QuerySucceeded)
		if reconcile(s) {
			t.Fatal("the idle session was kept after its query ended")
		}
	})
	t.Run("the API server is asked about queries the cache has not seen", func(t *testing.T) {
		q := newQuery("running-query", "running", false)
		setPhase(q, agentsv1alpha1.QueryRunning)
		running := newSession("running")
		newQuery("no-status-yet", "fresh", false) // no phase at all: just created
		fresh := newSession("fresh")
		// A session whose own queries are finished goes, whatever other sessions have.
		finished := newQuery("other-failed", "other", true)
		setPhase(finished, agentsv1alpha1.QueryFailed)
		other := newSession("other")
		waitCached(running)
		waitCached(fresh)
		if !reconcile(running) {
			t.Error("the session was deleted while its query (unseen by the cache) runs")
		}
		if !reconcile(fresh) {
			t.Error("the session was deleted while its query (unseen by the cache, no phase yet) waits to start")
		}
		// Until the cache holds the session, a reconcile does nothing (and the manager's
		// controller may delete it first).
		eventually(t, "a session with only a finished query goes, although another session has a running one", func() error {
			if reconcile(other) {
				return errors.New("kept")
			}
			return nil
		})
		setPhase(q, agentsv1alpha1.QueryCancelled)
		if reconcile(running) {
			t.Error("the idle session was kept after its query was cancelled")
		}
	})
}
