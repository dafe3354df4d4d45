package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/manager"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// The fixture: a real API server with RBAC and kubeask's admission policies, the
// operator running in-process as its own user (the chart's role and impersonation
// rights) with a fake OpenAI-protocol model, on a clock the tests move. People:
//   - alice (group dev) may work in team-a and read events and the notify Secrets
//     there, and may only create queries in team-c, not read its events;
//   - bob (group ops) may update triggers in team-a, nothing more;
//   - mallory is on the platform's deny list.
var (
	cluster    *testcluster.Cluster
	admin      client.Client
	users      = map[string]client.Client{}
	clock      = &testClock{}
	alertsURL  string
	sink       = newSink()
	modelCalls atomic.Int64
	// operatorRequests counts the operator's requests to the API server (its own and
	// those it makes as requesters).
	operatorRequests atomic.Int64
)

const denied = "mallory"

type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration)         { c.offset.Add(int64(d)) }
func (c *testClock) Set(t time.Time)                 { c.offset.Store(int64(time.Until(t))) }
func (c *testClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	model := llmtest.NewServer(func(req llmtest.Request) llmtest.Reply {
		modelCalls.Add(1)
		return llmtest.Reply{Text: "Diagnosis: the image tag does not exist.\n\nAsked: " + llmtest.PromptOf(req)}
	})
	defer model.Close()
	receiver := httptest.NewServer(sink)
	defer receiver.Close()
	var err error
	if cluster, err = testcluster.Start(testcluster.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cluster.Stop() }()
	dir, err := os.MkdirTemp("", "kubeask-trigger-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	operatorCfg, err := setup(ctx, receiver.URL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	catalog := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(catalog, []byte(fmt.Sprintf(`
defaultModel: fake
models:
- name: fake
  provider: openai
  model: fake-model
  baseURL: %s
  timeout: 60s
profiles:
- name: operate
  modes: [ReadOnly, Propose, Auto]
`, model.BaseURL())), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	alertsAddr := ln.Addr().String()
	_ = ln.Close()
	alertsURL = "http://" + alertsAddr

	opts := manager.NewOptions()
	opts.ConfigPath = catalog
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.Namespace = "kubeask-system"
	opts.AgentWorkers = 4
	opts.AlertsAddr = alertsAddr
	opts.DenyUsers = []string{denied}
	opts.Now = clock.Now
	opts.Complete()
	if err := opts.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- opts.Run(ctrl.LoggerInto(ctx, ctrl.Log), operatorCfg) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}

func setup(ctx context.Context, receiverURL string) (*rest.Config, error) {
	var err error
	if admin, err = cluster.Client(cluster.Admin); err != nil {
		return nil, err
	}
	roleBinding := func(ns, role string, subjects ...rbacv1.Subject) client.Object {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role, Namespace: ns},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}, Subjects: subjects}
	}
	group := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: name}
	}
	user := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: name}
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"watched": "yes"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-c", Labels: map[string]string{"watched": "yes"}}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "asker"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries", "agentsessions", "agenttriggers"}, Verbs: []string{"*"}},
		}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "reader"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "events", "secrets"}, Verbs: []string{"get", "list", "watch"}},
		}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "trigger-updater"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agenttriggers"}, Verbs: []string{"get", "list", "update", "patch"}},
		}},
		roleBinding("team-a", "asker", group("dev"), user(denied)),
		roleBinding("team-a", "reader", group("dev"), user(denied)),
		roleBinding("team-a", "trigger-updater", group("ops")),
		roleBinding("team-c", "asker", group("dev")),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "checkout-1", Namespace: "team-a"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:404"}}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "notify", Namespace: "team-a"}, StringData: map[string]string{
			"webhook": receiverURL + "/json", "slack": receiverURL + "/slack", "token": "webhook-bearer-1", "alerts": "am-token-1",
		}},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			return nil, fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	if err := cluster.InstallAdmissionPolicies(ctx, "team-a"); err != nil {
		return nil, err
	}
	for name, groups := range map[string][]string{"alice": {"dev"}, "bob": {"ops"}, denied: nil} {
		cfg, err := cluster.UserConfig(name, groups...)
		if err != nil {
			return nil, err
		}
		if users[name], err = cluster.Client(cfg); err != nil {
			return nil, err
		}
	}
	cfg, err := cluster.OperatorConfig(ctx)
	if err != nil {
		return nil, err
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			operatorRequests.Add(1)
			return rt.RoundTrip(r)
		})
	})
	return cfg, nil
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// sinkServer records what the notify targets receive.
type sinkServer struct {
	mu   sync.Mutex
	got  []received
	fail atomic.Int32 // answer 500 this many times first
}

type received struct {
	Path, Authorization string
	Body                map[string]any
}

func newSink() *sinkServer { return &sinkServer{} }

func (s *sinkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.fail.Load() > 0 {
		s.fail.Add(-1)
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	s.mu.Lock()
	s.got = append(s.got, received{Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: doc})
	s.mu.Unlock()
}

// about returns what was received whose body mentions s.
func (s *sinkServer) about(sub string) []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []received
	for _, r := range s.got {
		b, err := json.Marshal(r.Body)
		if err != nil {
			panic(err) // decoded from JSON just before: cannot fail
		}
		if strings.Contains(string(b), sub) {
			out = append(out, r)
		}
	}
	return out
}

// eventually polls f until it returns nil or 60 s pass.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rbacSubjectsPatch takes a subject out of a RoleBinding and puts it back.
type rbacSubjectsPatch struct {
	ns, name string
	saved    []rbacv1.Subject
}

func (p *rbacSubjectsPatch) removeGroup(t *testing.T, group string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: p.ns, Name: p.name}, rb); err != nil {
		t.Fatal(err)
	}
	p.saved = slices.Clone(rb.Subjects)
	rb.Subjects = slices.DeleteFunc(rb.Subjects, func(s rbacv1.Subject) bool { return s.Kind == "Group" && s.Name == group })
	if err := admin.Update(t.Context(), rb); err != nil {
		t.Fatal(err)
	}
}

func (p *rbacSubjectsPatch) restore(t *testing.T) {
	rb := &rbacv1.RoleBinding{}
	if err := admin.Get(context.Background(), client.ObjectKey{Namespace: p.ns, Name: p.name}, rb); err != nil {
		t.Error(err)
		return
	}
	rb.Subjects = p.saved
	if err := admin.Update(context.Background(), rb); err != nil {
		t.Error(err)
	}
}

func clientInNamespace(ns string) client.InNamespace { return client.InNamespace(ns) }

func clientLabels(trigger string) client.MatchingLabels {
	return client.MatchingLabels{"agents.kubeask.dev/trigger": trigger}
}

func clientKey(o client.Object) client.ObjectKey { return client.ObjectKeyFromObject(o) }
