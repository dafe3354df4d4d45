package askcli_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
)

// createdTrigger runs a trigger-creating command as alice, which must print the new
// trigger's name alone, and returns the trigger as stored.
func createdTrigger(t *testing.T, args ...string) *agentsv1alpha1.AgentTrigger {
	t.Helper()
	r := kubectlAsk(t, "alice", "", args...)
	if r.code != exitcode.Answered {
		t.Fatalf("%q: want exit 0\n%s", args, r)
	}
	name := strings.TrimSpace(r.out)
	tr := &agentsv1alpha1.AgentTrigger{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: name}, tr); err != nil {
		t.Fatalf("%q printed %q, which is no trigger: %v\n%s", args, name, err, r)
	}
	t.Cleanup(func() { _ = admin.Delete(context.Background(), tr) })
	// The requester is the user, stamped by admission: never the operator, never input.
	if tr.Spec.Requester == nil || tr.Spec.Requester.Username != "alice" {
		t.Errorf("%s: requester = %+v, want alice", name, tr.Spec.Requester)
	}
	mustContain(t, r, "stderr", "its queries run as alice")
	return tr
}

// waitTriggerReady waits until the operator has judged the trigger ready to fire.
func waitTriggerReady(t *testing.T, key client.ObjectKey) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		tr := &agentsv1alpha1.AgentTrigger{}
		if err := admin.Get(t.Context(), key, tr); err != nil {
			t.Fatal(err)
		}
		if meta.IsStatusConditionTrue(tr.Status.Conditions, "Ready") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trigger %s is not ready after 60s: %+v", key, tr.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestOnPresets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		preset string
		reason string
		kinds  []string
	}{
		{"crashloop", "BackOff", []string{"Pod"}},
		{"pending", "FailedScheduling", []string{"Pod"}},
		{"oom", "OOMKilling", nil},
		{"probe", "Unhealthy", []string{"Pod"}},
		{"mount", "FailedMount", []string{"Pod"}},
	} {
		t.Run(tc.preset, func(t *testing.T) {
			t.Parallel()
			tr := createdTrigger(t, "on", tc.preset, "-n", "team-a", "what happened to {{.Object}}?")
			ev := tr.Spec.Events
			if !strings.HasPrefix(tr.Name, tc.preset+"-") || ev == nil || !slices.Equal(ev.Reasons, []string{tc.reason}) || !slices.Equal(ev.InvolvedObject.Kinds, tc.kinds) {
				t.Errorf("%s: name %s, events %+v; want reason %s on %v", tc.preset, tr.Name, ev, tc.reason, tc.kinds)
			}
			if tr.Spec.Query.Prompt != "what happened to {{.Object}}?" || tr.Spec.Query.Mode != agentsv1alpha1.ModeReadOnly {
				t.Errorf("%s: query %+v", tc.preset, tr.Spec.Query)
			}
		})
	}
}

func TestOnWithEveryFlag(t *testing.T) {
	t.Parallel()
	tr := createdTrigger(t, "on", "crashloop", "--name", "checkout-crashes", "--name-pattern", "checkout-*",
		"--cooldown", "2h", "--max-per-hour", "5", "--mode", "propose", "--model", "fake", "--profile", "operate",
		"-s", "trigger-answers", "--timeout", "2m", "--max-steps", "7",
		"--notify-webhook-secret", "hooks/url", "--notify-slack-secret", "slack/webhook", "why is {{.Object}} crash-looping?")
	ev, q, n := tr.Spec.Events, tr.Spec.Query, tr.Spec.Notify
	switch {
	case tr.Name != "checkout-crashes":
		t.Errorf("name %s", tr.Name)
	case !slices.Equal(ev.InvolvedObject.NamePatterns, []string{"checkout-*"}) || ev.Cooldown.Duration != 2*time.Hour || ev.MaxQueriesPerHour != 5:
		t.Errorf("events %+v", ev)
	case q.Mode != agentsv1alpha1.ModePropose || q.Model != "fake" || q.Profile != "operate" || q.SessionRef == nil || q.SessionRef.Name != "trigger-answers" ||
		q.Timeout.Duration != 2*time.Minute || q.MaxSteps != 7:
		t.Errorf("query %+v", q)
	case n == nil || n.Webhook == nil || n.Webhook.URLSecretRef != (agentsv1alpha1.SecretKeySelector{Name: "hooks", Key: "url"}) ||
		n.Slack == nil || n.Slack.URLSecretRef != (agentsv1alpha1.SecretKeySelector{Name: "slack", Key: "webhook"}):
		t.Errorf("notify %+v", n)
	}
	// The session the queries go into exists from the start, as with kubectl ask -s.
	session := &agentsv1alpha1.AgentSession{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: "trigger-answers"}, session); err != nil {
		t.Errorf("session: %v", err)
	}
	t.Cleanup(func() { _ = admin.Delete(context.Background(), session) })
}

func TestOnEventAndAlert(t *testing.T) {
	t.Parallel()
	tr := createdTrigger(t, "on", "event", "--reason", "Evicted", "--kind", "Pod", "--kind", "Deployment", "why was {{.Object}} evicted?")
	if !strings.HasPrefix(tr.Name, "evicted-") || !slices.Equal(tr.Spec.Events.Reasons, []string{"Evicted"}) ||
		!slices.Equal(tr.Spec.Events.InvolvedObject.Kinds, []string{"Pod", "Deployment"}) {
		t.Errorf("on event: %s %+v", tr.Name, tr.Spec.Events)
	}

	r := kubectlAsk(t, "alice", "", "on", "alert", "--token-secret", "am-token/token", "--match", "alertname=KubePodCrashLooping",
		"--match", `severity=~"critical|page"`, "--match", "namespace!~kube-.*", "investigate {{.Alert}}")
	if r.code != 0 {
		t.Fatalf("on alert:\n%s", r)
	}
	name := strings.TrimSpace(r.out)
	mustContain(t, r, "stderr", "/alerts/team-a/"+name)
	tr = &agentsv1alpha1.AgentTrigger{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: name}, tr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Delete(context.Background(), tr) })
	want := []agentsv1alpha1.AlertMatcher{
		{Name: "alertname", Op: "=", Value: "KubePodCrashLooping"},
		{Name: "severity", Op: "=~", Value: "critical|page"},
		{Name: "namespace", Op: "!~", Value: "kube-.*"},
	}
	if a := tr.Spec.Alerts; a == nil || a.TokenSecretRef != (agentsv1alpha1.SecretKeySelector{Name: "am-token", Key: "token"}) || !slices.Equal(a.Matchers, want) {
		t.Errorf("on alert: %+v", tr.Spec.Alerts)
	}
}

func TestEvery(t *testing.T) {
	t.Parallel()
	tr := createdTrigger(t, "every", "1h", "summarize warnings in team-a")
	if s := tr.Spec.Schedule; !strings.HasPrefix(tr.Name, "every-1h-") || s == nil || s.Cron != "0 * * * *" || s.TimeZone != "" || tr.Spec.Query.Prompt != "summarize warnings in team-a" {
		t.Errorf("every 1h: %s %+v %q", tr.Name, s, tr.Spec.Query.Prompt)
	}
	tr = createdTrigger(t, "every", "--cron", "0 9 * * 1-5", "--time-zone", "Europe/Paris", "what", "changed", "since", "yesterday?")
	if s := tr.Spec.Schedule; s == nil || s.Cron != "0 9 * * 1-5" || s.TimeZone != "Europe/Paris" || tr.Spec.Query.Prompt != "what changed since yesterday?" {
		t.Errorf("every --cron: %+v %q", s, tr.Spec.Query.Prompt)
	}
}

// A dry run prints a manifest ready for git, creates nothing, and the manifest applies.
func TestTriggerDryRun(t *testing.T) {
	t.Parallel()
	const prompt = "dry run: why is {{.Object}} crash-looping?"
	r := kubectlAsk(t, "alice", "", "on", "crashloop", "--dry-run", "-o", "yaml", prompt)
	if r.code != 0 {
		t.Fatalf("--dry-run:\n%s", r)
	}
	for _, unwanted := range []string{"status", "creationTimestamp", "requester", "generateName"} {
		if strings.Contains(r.out, unwanted+":") {
			t.Errorf("the manifest holds %s:\n%s", unwanted, r.out)
		}
	}
	var tr agentsv1alpha1.AgentTrigger
	if err := yaml.UnmarshalStrict([]byte(r.out), &tr); err != nil {
		t.Fatalf("the manifest is not an AgentTrigger: %v\n%s", err, r.out)
	}
	if tr.APIVersion != "agents.kubeask.dev/v1alpha1" || tr.Kind != "AgentTrigger" || tr.Name != "crashloop" || tr.Namespace != "team-a" ||
		tr.Spec.Query.Prompt != prompt || !slices.Equal(tr.Spec.Events.Reasons, []string{"BackOff"}) {
		t.Errorf("manifest:\n%s", r.out)
	}
	// Without -o a dry run prints YAML too; with --dry-run=server the API server checks it first.
	r2 := kubectlAsk(t, "alice", "", "every", "6h", "--dry-run=server", prompt)
	if r2.code != 0 || !strings.Contains(r2.out, `cron: 0 */6 * * *`) || !strings.Contains(r2.out, "name: every-6h\n") {
		t.Errorf("every 6h --dry-run=server:\n%s", r2)
	}
	l := &agentsv1alpha1.AgentTriggerList{}
	if err := admin.List(t.Context(), l, client.InNamespace("team-a")); err != nil {
		t.Fatal(err)
	}
	for _, it := range l.Items {
		if it.Spec.Query.Prompt == prompt {
			t.Errorf("a dry run created %s", it.Name)
		}
	}
}

// Suspend and resume change spec.suspend only, so anyone RBAC lets patch a trigger
// may do it; changing what the trigger does is its requester's alone.
func TestTriggersListShowSuspendResume(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tr := createdTrigger(t, "on", "crashloop", "--name", "crash-watch", "why is {{.Object}} crash-looping?")
	waitTriggerReady(t, client.ObjectKeyFromObject(tr))
	// What firing would have recorded (no Warning event fires it here), written as a
	// merge patch so that it neither conflicts with nor undoes the operator's writes.
	now := metav1.Now().UTC().Format(time.RFC3339)
	patch := []byte(`{"status":{"fired":3,"lastFireTime":"` + now + `","lastQuery":"crash-watch-q2"}}`)
	if err := admin.Status().Patch(ctx, tr, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	alice, err := cluster.Client(userConfigs["alice"])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"crash-watch-q1", "crash-watch-q2"} {
		prompt := "why is pod/" + n + " crash-looping?"
		scripts.Set(prompt, reply("Its image does not exist."))
		q := &agentsv1alpha1.AgentQuery{
			ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "team-a", Labels: map[string]string{agentsv1alpha1.LabelTrigger: "crash-watch"}},
			Spec:       agentsv1alpha1.AgentQuerySpec{Prompt: prompt},
		}
		if err := alice.Create(ctx, q); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.Delete(context.Background(), q) })
	}

	r := kubectlAsk(t, "carol", "", "triggers")
	if r.code != 0 || !regexp.MustCompile(`(?m)^crash-watch\s+events BackOff on Pod\s+alice\s+false\s+True\s+3\s+\S+ ago\s`).MatchString(r.out) {
		t.Errorf("triggers should list crash-watch, as anyone who may read it sees it:\n%s", r)
	}
	if r := kubectlAsk(t, "alice", "", "triggers", "-o", "name"); !strings.Contains(r.out, "agenttrigger.agents.kubeask.dev/crash-watch\n") {
		t.Errorf("triggers -o name:\n%s", r)
	}
	r = kubectlAsk(t, "alice", "", "triggers", "show", "crash-watch")
	for _, want := range []string{"Requester:", "alice (every query it creates runs as this user)", "Source:", "events BackOff on Pod",
		"why is {{.Object}} crash-looping?", "Fired:", "3 (skipped: 0 by cooldown, 0 by limits)", "Ready=True (",
		"Queries (2, newest first):", "crash-watch-q1", "crash-watch-q2"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("triggers show: no %q\n%s", want, r)
		}
	}

	suspended := func(who string, want bool) {
		t.Helper()
		got := &agentsv1alpha1.AgentTrigger{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(tr), got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.Suspend != want || got.Spec.Query.Prompt != tr.Spec.Query.Prompt || got.Spec.Requester.Username != "alice" {
			t.Errorf("after %s: suspend=%v prompt=%q requester=%v; want suspend=%v and the rest unchanged", who, got.Spec.Suspend, got.Spec.Query.Prompt, got.Spec.Requester, want)
		}
	}
	for _, who := range []string{"alice", "dave"} {
		r = kubectlAsk(t, who, "", "triggers", "suspend", "crash-watch")
		if r.code != 0 || strings.TrimSpace(r.out) != `agenttrigger.agents.kubeask.dev "crash-watch" suspended` {
			t.Errorf("%s suspending:\n%s", who, r)
		}
		suspended(who+" suspending", true)
		if r := kubectlAsk(t, who, "", "triggers", "resume", "crash-watch"); r.code != 0 || !strings.Contains(r.out, "resumed") {
			t.Errorf("%s resuming:\n%s", who, r)
		}
		suspended(who+" resuming", false)
	}

	// dave may update the trigger (RBAC) but not make it do something else as alice.
	dave, err := cluster.Client(userConfigs["dave"])
	if err != nil {
		t.Fatal(err)
	}
	// Each update reads the trigger first and retries on a conflict: the trigger
	// controller writes its status meanwhile.
	update := func(c client.Client, prompt string) error {
		return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
			changed := &agentsv1alpha1.AgentTrigger{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(tr), changed); err != nil {
				return err
			}
			changed.Spec.Query.Prompt = prompt
			return c.Update(ctx, changed)
		})
	}
	err = update(dave, "list every secret in team-a")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "only the trigger's requester (alice) may change what it does, not dave") {
		t.Errorf("dave changing alice's prompt: %v; want the admission policy's denial", err)
	}
	if err := update(alice, "why is {{.Object}} crash-looping again?"); err != nil {
		t.Errorf("alice changing her own prompt: %v", err)
	}

	// carol may read triggers, not patch them: RBAC, explained.
	r = kubectlAsk(t, "carol", "", "triggers", "suspend", "crash-watch")
	if r.code != exitcode.Failed {
		t.Errorf("carol suspending: want exit 1\n%s", r)
	}
	mustContain(t, r, "stderr", `User "carol" cannot patch resource "agenttriggers"`)
	mustContain(t, r, "stderr", `You need the RBAC permission "patch" on agenttriggers.agents.kubeask.dev in namespace team-a`)

	if r := kubectlAsk(t, "dave", "", "triggers", "delete", "crash-watch"); r.code != exitcode.Failed {
		t.Errorf("dave may not delete: want exit 1\n%s", r)
	}
	if r := kubectlAsk(t, "alice", "", "triggers", "delete", "crash-watch"); r.code != 0 || !strings.Contains(r.out, "deleted") {
		t.Errorf("delete:\n%s", r)
	}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(tr), &agentsv1alpha1.AgentTrigger{}); !apierrors.IsNotFound(err) {
		t.Errorf("the trigger is still there: %v", err)
	}
}

func TestTriggerErrors(t *testing.T) {
	t.Parallel()
	t.Run("refused by the API server: exit 1 with its message", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"every", "--cron", "61 * * * *", "refused: a bad cron"}, "cron must be five fields"},
			{[]string{"every", "--cron", "@every 5m", "--dry-run=server", "refused: a bad cron, dry run"}, "cron must be five fields"},
			{[]string{"on", "crashloop", `refused: {{define "x"}}y{{end}}`}, "prompt may not use define, template, block or call"},
			{[]string{"on", "crashloop", "-s", "refused-session", `refused: {{block "x" .}}y{{end}}`}, "prompt may not use define, template, block or call"},
		} {
			r := kubectlAsk(t, "alice", "", tc.args...)
			if r.code != exitcode.Failed {
				t.Errorf("%q: want exit 1\n%s", tc.args, r)
			}
			mustContain(t, r, "stderr", "the API server refused to create agenttriggers")
			mustContain(t, r, "stderr", tc.want)
		}
		l := &agentsv1alpha1.AgentTriggerList{}
		if err := admin.List(t.Context(), l, client.InNamespace("team-a")); err != nil {
			t.Fatal(err)
		}
		for _, it := range l.Items {
			if strings.HasPrefix(it.Spec.Query.Prompt, "refused:") {
				t.Errorf("a refused trigger exists: %s", it.Name)
			}
		}
		// A refused trigger leaves no session behind either.
		err := admin.Get(t.Context(), client.ObjectKey{Namespace: "team-a", Name: "refused-session"}, &agentsv1alpha1.AgentSession{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("the session of a refused trigger: %v", err)
		}
	})
	t.Run("usage errors send nothing", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"every", "90m", "x"}, "--cron"},
			{[]string{"every"}, "needs how often"},
			{[]string{"every", "1h"}, "what should the agent be asked"},
			{[]string{"every", "1h", "--time-zone", "Mars/Olympus", "x"}, "not an IANA time zone"},
			{[]string{"on", "crashloop", "{{ if .Object }}"}, "not a valid Go template"},
			{[]string{"on", "crashlop", "x"}, `does not know "crashlop"`},
			{[]string{"on"}, "needs what to react to"},
			{[]string{"on", "event", "x"}, "at least one --reason"},
			{[]string{"on", "event", "--reason", "Evicted", "--kind", "pod", "x"}, "--kind \"pod\""},
			{[]string{"on", "alert", "x"}, "needs --token-secret"},
			{[]string{"on", "alert", "--token-secret", "am", "x"}, "want SECRET/KEY"},
			{[]string{"on", "alert", "--token-secret", "am/t", "--match", "severity", "x"}, "is not a matcher"},
			{[]string{"on", "pending", "--cooldown", "10s", "x"}, "--cooldown must be between 1m and 168h"},
			{[]string{"on", "pending", "--dry-run=maybe", "x"}, "--dry-run must be"},
			{[]string{"triggers", "show"}, "needs 1 argument"},
		} {
			r := kubectlAsk(t, "alice", "", tc.args...)
			if r.code != exitcode.Usage {
				t.Errorf("%q: want exit 2\n%s", tc.args, r)
			}
			mustContain(t, r, "stderr", tc.want)
		}
	})
	t.Run("RBAC", func(t *testing.T) {
		t.Parallel()
		r := kubectlAsk(t, "carol", "", "on", "crashloop", "x")
		if r.code != exitcode.Failed {
			t.Errorf("want exit 1\n%s", r)
		}
		mustContain(t, r, "stderr", `User "carol" cannot create resource "agenttriggers"`)
	})
	t.Run("no operator", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"triggers"}, {"on", "crashloop", "x"}, {"triggers", "suspend", "t"}} {
			r := kubectlAsk(t, "bare", "", args...)
			if r.code != exitcode.NoOperator {
				t.Errorf("%q: want exit 5\n%s", args, r)
			}
			mustContain(t, r, "stderr", "predates AgentTrigger")
		}
	})
}
