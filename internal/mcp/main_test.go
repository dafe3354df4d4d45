package mcp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/manager"
	kmcp "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/tools"
)

// The fixture: a real API server with RBAC and static bearer tokens. alice (group dev)
// may work in team-a only, bob (group ops) in team-b only, nobody has no RBAC at all.
// The operator is testcluster.OperatorUser as OperatorConfig makes it (the generated
// manager role, which includes TokenReview, impersonation, leases) and, on top,
// cluster-admin, so that a leak through it would show. A whole
// manager runs in-process with the MCP endpoint enabled (tokenreview mode) and a fake
// model; tests that need other settings build their own endpoint on the same cluster.
//
// The fixture starts on first use, so that the fuzz target, which needs no cluster,
// does not start one.
const (
	aliceToken  = "alice-0b9c1f2e7d3a4c5b8e6f"
	bobToken    = "bob-5e4d3c2b1a0f9e8d7c6b"
	nobodyToken = "nobody-1f2e3d4c5b6a7988"
)

type fixture struct {
	cluster     *testcluster.Cluster
	admin       client.Client
	operatorCfg *rest.Config
	// endpoint is the manager's MCP endpoint; auditFile its audit log.
	endpoint  string
	auditFile string
	model     *llmtest.Server
	catalog   string
	stop      func() error
}

var (
	fxOnce sync.Once
	fx     *fixture
	fxErr  error
	// scripts answers the fake model by the query's prompt.
	scripts sync.Map // prompt -> func(llmtest.Request) llmtest.Reply
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	code := m.Run()
	if fx != nil {
		if err := fx.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the fixture:", err)
		}
	}
	os.Exit(code)
}

// env returns the fixture, starting it on first use.
func env(t testing.TB) *fixture {
	t.Helper()
	fxOnce.Do(func() { fx, fxErr = startFixture() })
	if fxErr != nil {
		t.Fatalf("fixture: %v", fxErr)
	}
	return fx
}

func startFixture() (*fixture, error) {
	f := &fixture{}
	var err error
	tokens := []testcluster.StaticToken{
		{Token: aliceToken, User: "alice", UID: "uid-alice", Groups: []string{"dev"}},
		{Token: bobToken, User: "bob", UID: "uid-bob", Groups: []string{"ops"}},
		{Token: nobodyToken, User: "nobody", UID: "uid-nobody"},
	}
	for i := range benchUsers {
		tokens = append(tokens, testcluster.StaticToken{Token: benchToken(i), User: fmt.Sprintf("bench-user-%d", i), UID: fmt.Sprintf("uid-bench-%d", i), Groups: []string{"bench"}})
	}
	f.cluster, err = testcluster.Start(testcluster.Options{StaticTokens: tokens})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stops := []func() error{f.cluster.Stop}
	f.stop = func() error {
		cancel()
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i]())
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (*fixture, error) {
		_ = f.stop()
		return nil, err
	}
	if err := f.setupRBAC(ctx); err != nil {
		return fail(fmt.Errorf("setup: %w", err))
	}
	f.model = llmtest.NewServer(func(req llmtest.Request) llmtest.Reply {
		for i := len(req.Messages) - 1; i >= 0; i-- {
			if req.Messages[i].Role == "user" {
				if s, ok := scripts.Load(req.Messages[i].Text()); ok {
					return s.(func(llmtest.Request) llmtest.Reply)(req)
				}
			}
		}
		return llmtest.Reply{Text: "no script"}
	})
	stops = append(stops, func() error { f.model.Close(); return nil })
	dir, err := os.MkdirTemp("", "kubeask-mcp-test")
	if err != nil {
		return fail(err)
	}
	stops = append(stops, func() error { return os.RemoveAll(dir) })
	f.catalog = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(f.catalog, []byte(fmt.Sprintf(`
defaultModel: fake
models:
- name: fake
  provider: openai
  model: fake-model
  baseURL: %s
  timeout: 20s
profiles:
- name: operate
  description: Operate workloads.
  tools: [resources_list, resources_scale]
  modes: [ReadOnly, Propose]
`, f.model.BaseURL())), 0o600); err != nil {
		return fail(err)
	}
	f.auditFile = filepath.Join(dir, "audit.log")
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	opts := manager.NewOptions()
	opts.ConfigPath = f.catalog
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.Namespace = "kubeask-system"
	opts.AgentWorkers = 2
	opts.WatchNamespaces = []string{"team-a", "team-b"}
	opts.MCP.BindAddress = fmt.Sprintf("127.0.0.1:%d", port)
	opts.MCP.AuditLog = f.auditFile
	opts.MCP.DefaultNamespace = "team-a"
	opts.MCP.RateLimit, opts.MCP.RateBurst = 1000, 1000
	opts.Complete()
	if err := opts.Validate(); err != nil {
		return fail(err)
	}
	done := make(chan error, 1)
	go func() { done <- opts.Run(ctrl.LoggerInto(ctx, logr.Discard()), f.operatorCfg) }()
	stops = append(stops, func() error {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("manager: %w", err)
		}
		return nil
	})
	f.endpoint = fmt.Sprintf("http://127.0.0.1:%d%s", port, kmcp.PathStreamable)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err == nil {
			_ = resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			done <- err
			return fail(fmt.Errorf("manager exited: %w", err))
		default:
		}
		if time.Now().After(deadline) {
			return fail(errors.New("the MCP endpoint did not come up"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return f, nil
}

func (f *fixture) setupRBAC(ctx context.Context) error {
	var err error
	if f.admin, err = f.cluster.Client(f.cluster.Admin); err != nil {
		return err
	}
	if f.operatorCfg, err = f.cluster.OperatorConfig(ctx); err != nil {
		return err
	}
	rb := func(ns, group string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "team-member", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "team-member"},
			Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: group}},
		}
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "team-member"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"", "apps"}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries", "agentsessions", "agenttriggers"}, Verbs: []string{"*"}},
		}},
		rb("team-a", "dev"),
		rb("team-b", "ops"),
		// The operator may read every pod and secret: a caller must never see them
		// through it.
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kubeask-operator-view"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: testcluster.OperatorUser}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "team-a"}, StringData: map[string]string{"password": "hunter2-team-a-secret"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "checkout-1", Namespace: "team-a"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1"}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "payments-1", Namespace: "team-b"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "payments:1"}}}},
	}
	for _, o := range objs {
		if err := f.admin.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return f.cluster.InstallAdmissionPolicies(ctx, "team-a")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// testServer is an endpoint built directly, with its own options, audit buffer and
// metrics registry, served on a loopback httptest server.
type testServer struct {
	*kmcp.Server
	URL      string // the /mcp endpoint
	Base     string
	Audit    *syncBuffer
	Registry *prometheus.Registry
}

// newServer builds an endpoint on the fixture's cluster. edit adjusts the options
// (and may set an authenticator) before it is built.
func newServer(t testing.TB, edit func(*kmcp.Config)) *testServer {
	t.Helper()
	f := env(t)
	ids, err := identity.NewFactory(f.operatorCfg, identity.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(f.operatorCfg)
	if err != nil {
		t.Fatal(err)
	}
	httpClient, err := rest.HTTPClientFor(f.operatorCfg)
	if err != nil {
		t.Fatal(err)
	}
	restMapper, err := apiutil.NewDynamicRESTMapper(f.operatorCfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	registry, err := tools.NewRegistry(tools.Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(f.catalog)
	if err != nil {
		t.Fatal(err)
	}
	opts := kmcp.NewOptions()
	opts.BindAddress = "127.0.0.1:0"
	opts.DefaultNamespace = "team-a"
	ts := &testServer{Audit: &syncBuffer{}, Registry: prometheus.NewRegistry()}
	cfg := kmcp.Config{
		Options: opts, RESTConfig: f.operatorCfg, Identities: ids, Mapper: tools.NewMapper(dc), RESTMapper: restMapper,
		Scheme: testcluster.NewScheme(), Tools: registry, Catalog: cat, Registerer: ts.Registry, Audit: ts.Audit, Log: logr.Discard(),
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := kmcp.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ts.Server, ts.Base, ts.URL = srv, hs.URL, hs.URL+kmcp.PathStreamable
	return ts
}

// syncBuffer is a concurrency-safe audit sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records decodes the tool-call audit lines written so far.
func (b *syncBuffer) records(t testing.TB) []map[string]any {
	return b.linesOf(t, "kubeask.mcp.audit/v1")
}

// linesOf decodes the audit lines of one kind written so far.
func (b *syncBuffer) linesOf(t testing.TB, kind string) []map[string]any {
	b.mu.Lock()
	data := b.buf.String()
	b.mu.Unlock()
	var out []map[string]any
	for _, rec := range parseAudit(t, data) {
		if rec["kind"] == kind {
			out = append(out, rec)
		}
	}
	return out
}

func parseAudit(t testing.TB, data string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// bearer adds a token to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.base.RoundTrip(r)
}

// connect opens an MCP client session with the Go SDK's streamable HTTP transport.
// A protocolVersion argument asks for that version instead of the latest.
func connect(t testing.TB, endpoint, token string, opts *mcp.ClientOptions, protocolVersion ...string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "kubeask-test", Version: "v0"}, opts)
	var sessOpts *mcp.ClientSessionOptions
	if len(protocolVersion) > 0 {
		sessOpts = &mcp.ClientSessionOptions{ProtocolVersion: protocolVersion[0]}
	}
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: endpoint, HTTPClient: &http.Client{Transport: bearer{token, http.DefaultTransport}},
	}, sessOpts)
	if err != nil {
		t.Fatalf("connecting to %s: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// callTool calls a tool and returns its text and error flag.
func callTool(t testing.TB, cs *mcp.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("calling %s: %v", name, err)
	}
	checkResult(t, cs, name, res)
	return resultText(res), res.IsError
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
