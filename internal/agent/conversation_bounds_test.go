package agent_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// historyNamespace is not watched by the manager of TestMain: these tests run their
// queries with an agent of their own, whose connection records what it reads.
const historyNamespace = "history"

// historyRead is one response to a read of AgentQueries made as alice.
type historyRead struct {
	url      *url.URL
	metadata bool // a metadata-only list
	body     []byte
}

// historySpy records the AgentQuery reads the agent makes as alice (impersonating her).
type historySpy struct {
	base  http.RoundTripper
	mu    sync.Mutex
	reads []historyRead
}

func (s *historySpy) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || req.Header.Get("Impersonate-User") != "alice" ||
		!strings.Contains(req.URL.Path, "/namespaces/"+historyNamespace+"/agentqueries") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads = append(s.reads, historyRead{url: req.URL, metadata: strings.Contains(req.Header.Get("Accept"), "as=PartialObjectMetadataList"), body: body})
	return resp, nil
}

// result sorts what was read: the list requests, the names of the objects read in
// full, and every name that appeared in any answer.
func (s *historySpy) result(t *testing.T) (lists []*url.URL, full, seen []string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.reads {
		var doc struct {
			Metadata struct{ Name string }
			Items    []struct{ Metadata struct{ Name string } }
		}
		if err := json.Unmarshal(r.body, &doc); err != nil {
			t.Fatalf("decoding %s: %v", r.url, err)
		}
		if strings.HasSuffix(r.url.Path, "/agentqueries") {
			lists = append(lists, r.url)
			for _, it := range doc.Items {
				seen = append(seen, it.Metadata.Name)
				if !r.metadata {
					full = append(full, it.Metadata.Name)
				}
			}
			continue
		}
		seen = append(seen, doc.Metadata.Name)
		full = append(full, doc.Metadata.Name)
	}
	return lists, full, seen
}

// historyFixture creates the namespace, alice's rights in it, and a session.
func historyFixture(t *testing.T, session string, historyLimit int32) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: historyNamespace}}
	if err := admin.Create(t.Context(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	(&rbacBinding{ns: historyNamespace}).ensure(t)
	s := &agentsv1alpha1.AgentSession{ObjectMeta: metav1.ObjectMeta{Name: session, Namespace: historyNamespace}}
	s.Spec.HistoryLimit = new(historyLimit)
	if err := alice.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
}

// finishedQuery creates a query of session as alice, named name, and records it as
// ended in phase at completed.
func finishedQuery(t *testing.T, name, session string, phase agentsv1alpha1.QueryPhase, completed time.Time) {
	t.Helper()
	q := ask(t, alice, historyNamespace, "earlier question "+name, func(q *agentsv1alpha1.AgentQuery) {
		q.GenerateName, q.Name = "", name
		q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: session}
	})
	q.Status.Phase = phase
	q.Status.Answer = "earlier answer " + name
	q.Status.CompletionTime = &metav1.Time{Time: completed}
	if err := admin.Status().Update(t.Context(), q); err != nil {
		t.Fatalf("recording %s as %s: %v", name, phase, err)
	}
}

// runWithSpy runs q to its end with an agent whose connection records alice's reads,
// and returns the spy and the history prompts the model was given, in order.
func runWithSpy(t *testing.T, q *agentsv1alpha1.AgentQuery, seen *[]llmtest.Message) (*historySpy, []string) {
	t.Helper()
	spy := &historySpy{}
	cfg := rest.CopyConfig(operatorCfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { spy.base = rt; return spy })
	if err := newOperatorFor(t, cfg).Run(t.Context(), client.ObjectKeyFromObject(q)); err != nil {
		t.Fatal(err)
	}
	if got := get(t, q); got.Status.Phase != agentsv1alpha1.QuerySucceeded {
		t.Fatalf("the query ended %s: %+v", got.Status.Phase, got.Status.Conditions)
	}
	var history []string
	for _, m := range *seen {
		if _, prompt, ok := strings.Cut(m.Text(), "[earlier in this session, alice asked] earlier question "); ok && m.Role == "user" {
			history = append(history, prompt)
		}
	}
	return spy, history
}

// The history of a long session is the last historyLimit succeeded queries before this
// one, read without reading the namespace's other queries and without reading every
// query of the session in full.
func TestSessionHistoryReadsOnlyTheNewestOfItsSession(t *testing.T) {
	const limit = 3
	historyFixture(t, "long", limit)
	historyFixture(t, "crowd", 10)
	base := time.Now()
	for i := range 30 { // another session of the same namespace
		finishedQuery(t, fmt.Sprintf("crowd-%02d", i), "crowd", agentsv1alpha1.QuerySucceeded, base.Add(time.Duration(i)*time.Second))
	}
	for i := range 95 { // older ones: the session has more than a page of metadata
		finishedQuery(t, fmt.Sprintf("0-%03d", i), "long", agentsv1alpha1.QuerySucceeded, base.Add(-time.Hour))
	}
	for i := range 6 { // a-5 is the newest; creation times tie within a second, completion times do not
		finishedQuery(t, fmt.Sprintf("a-%d", i), "long", agentsv1alpha1.QuerySucceeded, base.Add(time.Duration(i)*time.Second))
	}
	finishedQuery(t, "f-0", "long", agentsv1alpha1.QueryFailed, base.Add(time.Minute))

	prompt := "What did we find so far in this long session?"
	var seen []llmtest.Message
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		seen = req.Messages
		return llmtest.Reply{Text: "Everything."}
	})
	q := ask(t, alice, historyNamespace, prompt, func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: "long"}
	})
	// Queries created after this one are not its history: wait for the next second.
	time.Sleep(time.Until(get(t, q).CreationTimestamp.Add(time.Second + 50*time.Millisecond)))
	for i := range 2 {
		finishedQuery(t, fmt.Sprintf("b-%d", i), "long", agentsv1alpha1.QuerySucceeded, base.Add(time.Hour))
	}

	spy, history := runWithSpy(t, q, &seen)
	if want := []string{"a-3", "a-4", "a-5"}; !slices.Equal(history, want) {
		t.Errorf("history = %v, want %v", history, want)
	}
	lists, full, names := spy.result(t)
	if len(lists) < 3 {
		t.Errorf("%d lists, want a page of full objects and at least two pages of metadata", len(lists))
	}
	for _, u := range lists {
		if sel := u.Query().Get("fieldSelector"); !strings.Contains(sel, "spec.sessionRef.name=long") || !strings.Contains(sel, "status.phase=Succeeded") {
			t.Errorf("a list without the session's selector: %s", u)
		}
		if u.Query().Get("limit") == "" {
			t.Errorf("a list without a limit: %s", u)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "crowd-") || n == "f-0" {
			t.Errorf("read %s, which is not a succeeded query of the session", n)
		}
	}
	// One page of limit full objects, then the newest limit ones.
	if len(full) > 2*limit {
		t.Errorf("read %d queries in full (%v), want at most %d", len(full), full, 2*limit)
	}
}

// A session no longer than its history limit is read in one request.
func TestSessionHistoryOfAShortSessionIsOneRequest(t *testing.T) {
	historyFixture(t, "short", 10)
	base := time.Now()
	for i := range 2 {
		finishedQuery(t, fmt.Sprintf("s-%d", i), "short", agentsv1alpha1.QuerySucceeded, base.Add(time.Duration(i)*time.Second))
	}
	prompt := "What did we find so far in this short session?"
	var seen []llmtest.Message
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		seen = req.Messages
		return llmtest.Reply{Text: "Little."}
	})
	q := ask(t, alice, historyNamespace, prompt, func(q *agentsv1alpha1.AgentQuery) {
		q.Spec.SessionRef = &agentsv1alpha1.SessionReference{Name: "short"}
	})
	spy, history := runWithSpy(t, q, &seen)
	if want := []string{"s-0", "s-1"}; !slices.Equal(history, want) {
		t.Errorf("history = %v, want %v", history, want)
	}
	lists, full, _ := spy.result(t)
	if len(lists) != 1 || len(full) != 2 {
		t.Errorf("%d lists reading %v in full, want one list of the two queries", len(lists), full)
	}
}
