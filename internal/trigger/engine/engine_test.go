package engine_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/trigger/engine"
)

func eventTrigger(name string, mutate ...func(*agentsv1alpha1.AgentTrigger)) *agentsv1alpha1.AgentTrigger {
	t := &agentsv1alpha1.AgentTrigger{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
		Spec: agentsv1alpha1.AgentTriggerSpec{
			Events: &agentsv1alpha1.EventSource{
				Reasons:        []string{"BackOff"},
				InvolvedObject: agentsv1alpha1.InvolvedObjectFilter{Kinds: []string{"Pod"}},
			},
			Query: agentsv1alpha1.QueryTemplate{Prompt: "[" + name + "] why is {{.Object}} in {{.Namespace}} failing with {{.Reason}}: {{.Message}}"},
		},
	}
	for _, m := range mutate {
		m(t)
	}
	return t
}

// create creates obj as c and fails the test on error.
func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(t.Context(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitReady waits until the trigger's Ready condition has status want and returns it.
func waitReady(t *testing.T, tr *agentsv1alpha1.AgentTrigger, want metav1.ConditionStatus) *metav1.Condition {
	t.Helper()
	var got *metav1.Condition
	eventually(t, "trigger "+tr.Name+" Ready="+string(want), func() error {
		cur := &agentsv1alpha1.AgentTrigger{}
		if err := admin.Get(t.Context(), client.ObjectKeyFromObject(tr), cur); err != nil {
			return err
		}
		got = meta.FindStatusCondition(cur.Status.Conditions, engine.ConditionReady)
		if got == nil || got.Status != want || got.ObservedGeneration != cur.Generation {
			return fmt.Errorf("Ready = %+v", got)
		}
		return nil
	})
	return got
}

func getTrigger(t *testing.T, tr *agentsv1alpha1.AgentTrigger) *agentsv1alpha1.AgentTrigger {
	t.Helper()
	cur := &agentsv1alpha1.AgentTrigger{}
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(tr), cur); err != nil {
		t.Fatal(err)
	}
	return cur
}

// queriesOf lists the queries a trigger created.
func queriesOf(t *testing.T, tr *agentsv1alpha1.AgentTrigger) []agentsv1alpha1.AgentQuery {
	t.Helper()
	var list agentsv1alpha1.AgentQueryList
	if err := admin.List(t.Context(), &list, client.InNamespace(tr.Namespace), client.MatchingLabels{agentsv1alpha1.LabelTrigger: tr.Name}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

var eventSeq int

// warning records a Warning event about a pod, as a kubelet would (with the admin's rights).
func warning(t *testing.T, ns, pod, reason, msg string) {
	t.Helper()
	eventSeq++
	now := metav1.NewTime(clock.Now())
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%d", pod, eventSeq), Namespace: ns},
		InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: pod, UID: types.UID("uid-" + pod)},
		Reason:         reason, Message: msg, Type: corev1.EventTypeWarning, Count: 1,
		FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "kubelet"},
	}
	create(t, admin, ev)
}

func TestAWarningEventFiresOneQueryAsTheTriggersAuthorAndTheAnswerIsDelivered(t *testing.T) {
	tr := eventTrigger("crashloop", func(tr *agentsv1alpha1.AgentTrigger) {
		tr.Spec.Notify = &agentsv1alpha1.Notify{
			Webhook: &agentsv1alpha1.WebhookTarget{
				URLSecretRef:   agentsv1alpha1.SecretKeySelector{Name: "notify", Key: "webhook"},
				TokenSecretRef: &agentsv1alpha1.SecretKeySelector{Name: "notify", Key: "token"},
			},
			Slack: &agentsv1alpha1.WebhookTarget{URLSecretRef: agentsv1alpha1.SecretKeySelector{Name: "notify", Key: "slack"}},
		}
	})
	create(t, users["alice"], tr)
	waitReady(t, tr, metav1.ConditionTrue)

	warning(t, "team-a", "checkout-1", "BackOff", "Back-off restarting failed container app")
	var q agentsv1alpha1.AgentQuery
	eventually(t, "one query", func() error {
		qs := queriesOf(t, tr)
		if len(qs) != 1 {
			return fmt.Errorf("%d queries", len(qs))
		}
		q = qs[0]
		return nil
	})
	if r := q.Spec.Requester; r == nil || r.Username != "alice" {
		t.Fatalf("query requester = %+v, want alice (stamped by admission from the impersonated request), not the operator", r)
	}
	if want := "[crashloop] why is pod/checkout-1 in team-a failing with BackOff: Back-off restarting failed container app"; q.Spec.Prompt != want {
		t.Errorf("prompt = %q, want %q", q.Spec.Prompt, want)
	}
	if q.Spec.Mode == nil || *q.Spec.Mode != agentsv1alpha1.ModeReadOnly {
		t.Errorf("mode = %v, want ReadOnly", q.Spec.Mode)
	}

	// The query runs, as alice, and its answer goes to both targets and an Event on the pod.
	eventually(t, "answer delivered to the JSON webhook and Slack", func() error {
		got := sink.about(q.Name)
		if len(got) < 2 {
			return fmt.Errorf("received %d deliveries about %s", len(got), q.Name)
		}
		return nil
	})
	for _, r := range sink.about(q.Name) {
		switch r.Path {
		case "/json":
			if r.Authorization != "Bearer webhook-bearer-1" {
				t.Errorf("JSON webhook Authorization = %q", r.Authorization)
			}
			if r.Body["kind"] != "AgentTriggerResult" || !strings.Contains(fmt.Sprint(r.Body["answer"]), "Diagnosis: the image tag does not exist") {
				t.Errorf("JSON webhook body = %v", r.Body)
			}
		case "/slack":
			if r.Authorization != "" || !strings.Contains(fmt.Sprint(r.Body["text"]), "Diagnosis") {
				t.Errorf("Slack got Authorization %q, body %v", r.Authorization, r.Body)
			}
		default:
			t.Errorf("unexpected delivery to %s", r.Path)
		}
	}
	eventually(t, "an Event on the pod naming the query", func() error {
		var evs corev1.EventList
		if err := admin.List(t.Context(), &evs, client.InNamespace("team-a")); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "checkout-1" && e.Reason == "AgentInvestigated" && strings.Contains(e.Message, q.Name) {
				if strings.Contains(e.Message, "Diagnosis") {
					return fmt.Errorf("the Event carries the answer, which readers of events may not see: %q", e.Message)
				}
				return nil
			}
		}
		return fmt.Errorf("no AgentInvestigated event on checkout-1")
	})
	eventually(t, "status counts", func() error {
		st := getTrigger(t, tr).Status
		if st.Fired != 1 || st.Deliveries != 1 || st.LastQuery != q.Name || st.LastFireTime == nil {
			return fmt.Errorf("status = %+v", st)
		}
		return nil
	})
	// Delivered once, even though the query is reconciled again later.
	cur := &agentsv1alpha1.AgentQuery{}
	if err := admin.Get(t.Context(), client.ObjectKeyFromObject(&q), cur); err != nil {
		t.Fatal(err)
	}
	if cur.Annotations[agentsv1alpha1.AnnotationNotified] == "" {
		t.Errorf("query not annotated as notified: %v", cur.Annotations)
	}
	time.Sleep(time.Second)
	if n := len(sink.about(q.Name)); n != 2 {
		t.Errorf("%d deliveries, want exactly 2 (one per target)", n)
	}
}

func TestCooldownAndRateLimitHoldUnderAStormOfEvents(t *testing.T) {
	tr := eventTrigger("storm", func(tr *agentsv1alpha1.AgentTrigger) {
		tr.Spec.Events.Reasons = []string{"FailedMount"}
		tr.Spec.Events.MaxQueriesPerHour = 3
		tr.Spec.Events.Cooldown = &metav1.Duration{Duration: 30 * time.Minute}
		// Queries deleted by the history limit still count for the limits.
		tr.Spec.SuccessfulQueriesHistoryLimit = new(int32(0))
	})
	create(t, users["alice"], tr)
	waitReady(t, tr, metav1.ConditionTrue)

	// 100 events about one pod: one query (cooldown). Then 100 about 50 other pods:
	// two more (the hourly limit of 3).
	for range 100 {
		warning(t, "team-a", "storm-0", "FailedMount", "volume not found")
	}
	eventually(t, "the first query", func() error {
		if n := len(queriesOf(t, tr)); n != 1 {
			return fmt.Errorf("%d queries", n)
		}
		return nil
	})
	for i := range 100 {
		warning(t, "team-a", fmt.Sprintf("storm-%d", 1+i%50), "FailedMount", "volume not found")
	}
	eventually(t, "suppressed counts written", func() error {
		st := getTrigger(t, tr).Status
		if st.Fired != 3 || st.SuppressedByCooldown < 99 || st.SuppressedByLimit < 1 {
			return fmt.Errorf("status fired=%d cooldown=%d limit=%d", st.Fired, st.SuppressedByCooldown, st.SuppressedByLimit)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	if n := len(queriesOf(t, tr)); n != 3 {
		t.Fatalf("%d queries after the storm, want 3 (one per pod within the cooldown, 3 per hour, kept while they count)", n)
	}
	if st := getTrigger(t, tr).Status; st.Fired != 3 {
		t.Fatalf("fired = %d after the storm, want 3", st.Fired)
	}
	// An hour later the limit has room again; the cooldown of storm-0 has passed too.
	clock.Advance(61 * time.Minute)
	t.Cleanup(func() { clock.offset.Store(0) })
	warning(t, "team-a", "storm-0", "FailedMount", "volume not found")
	// The three earlier queries no longer count, so the history limit of 0 deletes them
	// (and, since the API server stamps real creation times while the operator's clock
	// is an hour ahead, soon the new one too).
	eventually(t, "a fourth query an hour later, the older three deleted", func() error {
		if st := getTrigger(t, tr).Status; st.Fired != 4 {
			return fmt.Errorf("fired = %d", st.Fired)
		}
		if qs := queriesOf(t, tr); len(qs) > 1 {
			return fmt.Errorf("queries %v, want the older three deleted", names(qs))
		}
		return nil
	})
}

func TestATriggerNeverFiresOnEventsItsAuthorCannotRead(t *testing.T) {
	// alice may create queries in team-c but not read its events; her trigger in
	// team-a selects both namespaces.
	tr := eventTrigger("everywhere", func(tr *agentsv1alpha1.AgentTrigger) {
		tr.Spec.Events.Reasons = []string{"Unhealthy"}
		tr.Spec.Events.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"watched": "yes"}}
	})
	create(t, users["alice"], tr)
	waitReady(t, tr, metav1.ConditionTrue)
	warning(t, "team-c", "secret-service", "Unhealthy", "Readiness probe failed: the password is hunter2")
	eventually(t, "the unreadable event counted", func() error {
		if st := getTrigger(t, tr).Status; st.SuppressedNotReadable != 1 {
			return fmt.Errorf("suppressedNotReadable = %d", st.SuppressedNotReadable)
		}
		return nil
	})
	for _, q := range queriesOf(t, tr) {
		t.Errorf("query %s created from an event alice cannot read: %q", q.Name, q.Spec.Prompt)
	}
	// The same trigger fires for the namespace she can read.
	warning(t, "team-a", "checkout-1", "Unhealthy", "Readiness probe failed")
	eventually(t, "a query for team-a", func() error {
		if n := len(queriesOf(t, tr)); n != 1 {
			return fmt.Errorf("%d queries", n)
		}
		return nil
	})
}

func TestATriggerWhoseAuthorMayNotAskStopsFiringAndSaysWhy(t *testing.T) {
	t.Run("deny list", func(t *testing.T) {
		tr := eventTrigger("from-mallory")
		create(t, users[denied], tr)
		c := waitReady(t, tr, metav1.ConditionFalse)
		if c.Reason != engine.ReasonRequesterRefused || !strings.Contains(c.Message, "deny list") {
			t.Fatalf("Ready = %+v", c)
		}
	})
	t.Run("lost the right to create queries", func(t *testing.T) {
		tr := eventTrigger("into-team-c", func(tr *agentsv1alpha1.AgentTrigger) {
			tr.Spec.Events.Reasons = []string{"FailedScheduling"}
		})
		create(t, users["alice"], tr)
		waitReady(t, tr, metav1.ConditionTrue)
		rb := &rbacSubjectsPatch{ns: "team-a", name: "asker"}
		rb.removeGroup(t, "dev")
		t.Cleanup(func() { rb.restore(t) })
		poke(t, tr)
		c := waitReady(t, tr, metav1.ConditionFalse)
		if c.Reason != engine.ReasonRequesterForbidden || !strings.Contains(c.Message, "alice may not create AgentQueries in namespace team-a") {
			t.Fatalf("Ready = %+v", c)
		}
		warning(t, "team-a", "checkout-1", "FailedScheduling", "0/3 nodes are available")
		time.Sleep(2 * time.Second)
		if n := len(queriesOf(t, tr)); n != 0 {
			t.Fatalf("%d queries created for a requester who may not create them", n)
		}
	})
	t.Run("Auto needs the platform's consent", func(t *testing.T) {
		tr := eventTrigger("auto", func(tr *agentsv1alpha1.AgentTrigger) { tr.Spec.Query.Mode = agentsv1alpha1.ModeAuto })
		// The RoleBinding restored by the subtest before may take a moment to apply.
		eventually(t, "alice may create triggers again", func() error { return users["alice"].Create(t.Context(), tr.DeepCopy()) })
		c := waitReady(t, tr, metav1.ConditionFalse)
		if c.Reason != engine.ReasonModeNotAllowed {
			t.Fatalf("Ready = %+v", c)
		}
	})
}

// TestTheAgentRefusesAutoForTriggerQueries: whatever a trigger's status says (a user
// with status rights could forge Ready), the agent itself refuses to run a trigger's
// query in Auto mode without the platform's consent. A person asking by hand may.
func TestTheAgentRefusesAutoForTriggerQueries(t *testing.T) {
	auto := agentsv1alpha1.ModeAuto
	mk := func(name string, labels map[string]string) *agentsv1alpha1.AgentQuery {
		return &agentsv1alpha1.AgentQuery{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", Labels: labels},
			Spec:       agentsv1alpha1.AgentQuerySpec{Prompt: "[" + name + "] restart checkout", Mode: &auto, Profile: "operate"},
		}
	}
	fromTrigger := mk("auto-from-trigger", map[string]string{agentsv1alpha1.LabelTrigger: "nightly"})
	byHand := mk("auto-by-hand", nil)
	create(t, users["alice"], fromTrigger)
	create(t, users["alice"], byHand)
	phase := func(q *agentsv1alpha1.AgentQuery) (*agentsv1alpha1.AgentQuery, error) {
		cur := &agentsv1alpha1.AgentQuery{}
		if err := admin.Get(t.Context(), client.ObjectKeyFromObject(q), cur); err != nil {
			return nil, err
		}
		if !cur.Status.Phase.Finished() {
			return nil, fmt.Errorf("%s is %q", q.Name, cur.Status.Phase)
		}
		return cur, nil
	}
	eventually(t, "both queries settled", func() error {
		if _, err := phase(fromTrigger); err != nil {
			return err
		}
		_, err := phase(byHand)
		return err
	})
	got, _ := phase(fromTrigger)
	if c := meta.FindStatusCondition(got.Status.Conditions, "Accepted"); got.Status.Phase != agentsv1alpha1.QueryFailed || c == nil ||
		c.Reason != "ModeNotAllowed" || !strings.Contains(c.Message, "triggers.allowAutoMode") {
		t.Fatalf("trigger query: phase %s, conditions %+v; want Failed with ModeNotAllowed", got.Status.Phase, got.Status.Conditions)
	}
	if got, _ := phase(byHand); got.Status.Phase != agentsv1alpha1.QuerySucceeded {
		t.Fatalf("a person's own Auto query: phase %s, conditions %+v", got.Status.Phase, got.Status.Conditions)
	}
}

func TestAScheduleFiresOncePerRunOnAFakeClock(t *testing.T) {
	tr := &agentsv1alpha1.AgentTrigger{
		ObjectMeta: metav1.ObjectMeta{Name: "hourly", Namespace: "team-a"},
		Spec: agentsv1alpha1.AgentTriggerSpec{
			Schedule: &agentsv1alpha1.ScheduleSource{Cron: "0 * * * *", ConcurrencyPolicy: agentsv1alpha1.ConcurrencyAllow},
			Query:    agentsv1alpha1.QueryTemplate{Prompt: "[hourly] summarize the warnings in {{.Namespace}} at {{.Schedule.ScheduledTime.Format \"15:04\"}}"},
		},
	}
	create(t, users["alice"], tr)
	waitReady(t, tr, metav1.ConditionTrue)
	if n := len(queriesOf(t, tr)); n != 0 {
		t.Fatalf("%d queries before the first run", n)
	}
	created := getTrigger(t, tr).CreationTimestamp.Time
	run := created.Truncate(time.Hour).Add(time.Hour)
	clock.Set(run.Add(30 * time.Second))
	t.Cleanup(func() { clock.offset.Store(0) })
	poke(t, tr)
	wantName := fmt.Sprintf("hourly-%d", run.Unix()/60)
	eventually(t, "the run's query", func() error {
		qs := queriesOf(t, tr)
		if len(qs) != 1 || qs[0].Name != wantName {
			return fmt.Errorf("queries %v, want one named %s", names(qs), wantName)
		}
		if want := "at " + run.UTC().Format("15:04"); !strings.Contains(qs[0].Spec.Prompt, want) {
			return fmt.Errorf("prompt %q lacks %q", qs[0].Spec.Prompt, want)
		}
		if qs[0].Spec.Requester.Username != "alice" {
			return fmt.Errorf("requester %s", qs[0].Spec.Requester.Username)
		}
		return nil
	})
	// Reconciled again within the same hour: no second query.
	poke(t, tr)
	time.Sleep(2 * time.Second)
	if n := len(queriesOf(t, tr)); n != 1 {
		t.Fatalf("%d queries within one scheduled hour", n)
	}
	if st := getTrigger(t, tr).Status; st.LastFireTime == nil || !st.LastFireTime.Time.Equal(run) {
		t.Errorf("lastFireTime = %v, want the scheduled time %v", st.LastFireTime, run)
	}
	// Two hours later (one run missed while "down"): only the latest run fires.
	clock.Set(run.Add(2*time.Hour + time.Minute))
	poke(t, tr)
	eventually(t, "the latest missed run", func() error {
		qs := queriesOf(t, tr)
		if len(qs) != 2 {
			return fmt.Errorf("queries %v", names(qs))
		}
		return nil
	})
	want := fmt.Sprintf("hourly-%d", run.Add(2*time.Hour).Unix()/60)
	found := false
	for _, q := range queriesOf(t, tr) {
		found = found || q.Name == want
	}
	if !found {
		t.Fatalf("queries %v lack %s", names(queriesOf(t, tr)), want)
	}
}

func TestAlertmanagerFiresAndResolves(t *testing.T) {
	tr := &agentsv1alpha1.AgentTrigger{
		ObjectMeta: metav1.ObjectMeta{Name: "alerts", Namespace: "team-a"},
		Spec: agentsv1alpha1.AgentTriggerSpec{
			Alerts: &agentsv1alpha1.AlertSource{
				TokenSecretRef: agentsv1alpha1.SecretKeySelector{Name: "notify", Key: "alerts"},
				Matchers:       []agentsv1alpha1.AlertMatcher{{Name: "namespace", Op: agentsv1alpha1.MatchEqual, Value: "team-a"}},
			},
			Query: agentsv1alpha1.QueryTemplate{Prompt: "[alerts] {{.Alert.Status}}: {{range .Alerts}}{{index .Labels \"alertname\"}} on {{index .Labels \"pod\"}}; {{end}}"},
			Notify: &agentsv1alpha1.Notify{Webhook: &agentsv1alpha1.WebhookTarget{
				URLSecretRef: agentsv1alpha1.SecretKeySelector{Name: "notify", Key: "webhook"},
			}},
		},
	}
	create(t, users["alice"], tr)
	waitReady(t, tr, metav1.ConditionTrue)
	firing, err := os.ReadFile(filepath.Join("testdata", "alertmanager-firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := os.ReadFile(filepath.Join("testdata", "alertmanager-resolved.json"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(token string, body []byte) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, alertsURL+"/alerts/team-a/alerts", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong", firing); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	if code := post("am-token-1", firing); code != http.StatusOK {
		t.Fatalf("firing: %d, want 200", code)
	}
	var q agentsv1alpha1.AgentQuery
	eventually(t, "a query for the firing group", func() error {
		qs := queriesOf(t, tr)
		if len(qs) != 1 {
			return fmt.Errorf("%d queries", len(qs))
		}
		q = qs[0]
		return nil
	})
	if q.Spec.Requester.Username != "alice" || q.Spec.Prompt != "[alerts] firing: KubePodCrashLooping on checkout-6b7f9c;" {
		t.Fatalf("query requester %s, prompt %q", q.Spec.Requester.Username, q.Spec.Prompt)
	}
	// Alertmanager repeats the notification: still one query for the group.
	if code := post("am-token-1", firing); code != http.StatusOK {
		t.Fatalf("repeat: %d", code)
	}
	time.Sleep(time.Second)
	if n := len(queriesOf(t, tr)); n != 1 {
		t.Fatalf("%d queries after a repeated notification, want 1 per group", n)
	}
	// Resolved closes the loop: the query is marked and the webhook told.
	if code := post("am-token-1", resolved); code != http.StatusOK {
		t.Fatalf("resolved: %d", code)
	}
	eventually(t, "query marked resolved and resolution delivered", func() error {
		cur := &agentsv1alpha1.AgentQuery{}
		if err := admin.Get(t.Context(), client.ObjectKeyFromObject(&q), cur); err != nil {
			return err
		}
		if cur.Annotations[agentsv1alpha1.AnnotationAlertResolved] == "" {
			return fmt.Errorf("annotations %v", cur.Annotations)
		}
		for _, r := range sink.about(q.Name) {
			if r.Body["resolved"] == true {
				return nil
			}
		}
		return fmt.Errorf("no resolved message delivered")
	})
	// Firing again after resolution is a new incident: a new query.
	if code := post("am-token-1", firing); code != http.StatusOK {
		t.Fatalf("firing again: %d", code)
	}
	eventually(t, "a second query", func() error {
		if n := len(queriesOf(t, tr)); n != 2 {
			return fmt.Errorf("%d queries", n)
		}
		return nil
	})
}

func names(qs []agentsv1alpha1.AgentQuery) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.Name
	}
	return out
}

// poke makes the controller look at a trigger now (as a watch event would).
func poke(t *testing.T, tr *agentsv1alpha1.AgentTrigger) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{"test.kubeask.dev/poke":"%d"}}}`, time.Now().UnixNano())
	if err := admin.Patch(t.Context(), &agentsv1alpha1.AgentTrigger{ObjectMeta: metav1.ObjectMeta{Name: tr.Name, Namespace: tr.Namespace}},
		client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
}
