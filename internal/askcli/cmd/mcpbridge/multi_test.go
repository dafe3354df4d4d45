package mcpbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
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
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/kubeask/kubeask/internal/askcli/cmd/mcpbridge"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	kmcp "github.com/kubeask/kubeask/internal/mcp"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/tools"
)

// One cluster of the test: a control plane with a kubeask MCP endpoint served
// in-process (tokenreview mode, as the caller by impersonation), which records the
// Authorization headers it receives.
type testCluster struct {
	cluster  *testcluster.Cluster
	endpoint string
	mu       sync.Mutex
	seen     map[string]int // Authorization header -> requests
	audit    *syncBuffer
}

func (c *testCluster) tokensSeen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for a := range c.seen {
		out = append(out, strings.TrimPrefix(a, "Bearer "))
	}
	slices.Sort(out)
	return out
}

// startCluster starts a control plane whose static tokens are tokens (user by
// token), creates the namespace team-a with one pod, lets the users in podReaders list
// pods there, and serves a kubeask MCP endpoint with the given tools and catalog.
func startCluster(t *testing.T, tokens map[string]string, podReaders []string, pod string, toolset []tools.Tool, catalogFile string) *testCluster {
	t.Helper()
	var static []testcluster.StaticToken
	for token, user := range tokens {
		static = append(static, testcluster.StaticToken{Token: token, User: user, UID: "uid-" + user})
	}
	cl, err := testcluster.Start(testcluster.Options{StaticTokens: static, SkipCRDs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cl.Stop(); err != nil {
			t.Errorf("stopping a control plane: %v", err)
		}
	})
	ctx := t.Context()
	admin, err := cl.Client(cl.Admin)
	if err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: "team-a"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: "team-a"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}},
	}
	if len(podReaders) > 0 {
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: "team-a"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"}}
		for _, u := range podReaders {
			rb.Subjects = append(rb.Subjects, rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: u})
		}
		objs = append(objs, rb)
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
	operator, err := cl.OperatorConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.NewFactory(operator, identity.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(operator)
	if err != nil {
		t.Fatal(err)
	}
	httpClient, err := rest.HTTPClientFor(operator)
	if err != nil {
		t.Fatal(err)
	}
	restMapper, err := apiutil.NewDynamicRESTMapper(operator, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	registry, err := tools.NewRegistry(toolset...)
	if err != nil {
		t.Fatal(err)
	}
	var cat *catalog.Catalog
	if catalogFile != "" {
		if cat, err = catalog.Load(catalogFile); err != nil {
			t.Fatal(err)
		}
	}
	c := &testCluster{cluster: cl, seen: map[string]int{}, audit: &syncBuffer{}}
	opts := kmcp.NewOptions()
	opts.BindAddress = "127.0.0.1:0"
	srv, err := kmcp.New(ctx, kmcp.Config{
		Options: opts, RESTConfig: operator, Identities: ids, Mapper: tools.NewMapper(dc), RESTMapper: restMapper,
		Scheme: testcluster.NewScheme(), Tools: registry, Catalog: cat, Registerer: prometheus.NewRegistry(), Audit: c.audit, Log: logr.Discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.seen[r.Header.Get("Authorization")]++
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	c.endpoint = hs.URL + kmcp.PathStreamable
	return c
}

// directTools lists the tools of an endpoint, connecting with token.
func directTools(t *testing.T, endpoint, token string) []string {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "direct", Version: "v0"}, nil)
	cs, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: bearer(token)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cs.Close() }()
	var names []string
	for tl, err := range cs.Tools(t.Context(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tl.Name)
	}
	return names
}

type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// One MCP server on stdio reaches two clusters, each with its own endpoint and its
// own context's credentials: alice may list pods in cluster A only; in cluster B she
// is forbidden while bob (another context of B) may; a third context whose endpoint
// does not answer fails its calls only. Cluster B's endpoint serves fewer tools and
// no prompts: the union is listed, with the contexts that lack each.
func TestOneServerForSeveralClusters(t *testing.T) {
	const (
		aliceA = "alice-a-7f3e9c2b5d1a"
		aliceB = "alice-b-2c8d4e6f1a3b"
		bobB   = "bob-b-9e1d7c5b3a2f"
	)
	dir := t.TempDir()
	catalogFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(catalogFile, []byte(`
defaultModel: fake
models:
- name: fake
  provider: openai
  model: fake-model
  baseURL: http://127.0.0.1:1/v1
profiles:
- name: operate
  description: Operate workloads.
  tools: [resources_list]
  modes: [ReadOnly]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	all := tools.Builtin()
	var withoutEvents []tools.Tool
	for _, tl := range all {
		if tl.Name != "events_list" {
			withoutEvents = append(withoutEvents, tl)
		}
	}
	// The two control planes start one after the other: two cores are shared.
	a := startCluster(t, map[string]string{aliceA: "alice"}, []string{"alice"}, "checkout-1", all, catalogFile)
	b := startCluster(t, map[string]string{aliceB: "alice", bobB: "bob"}, []string{"bob"}, "payments-1", withoutEvents, "")
	unreachable := "http://" + closedPort(t) + "/mcp"

	kubeconfig := clientcmdapi.NewConfig()
	addContext := func(name, server string, ca []byte, token string) {
		kubeconfig.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
		kubeconfig.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
		kubeconfig.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	addContext("a", a.cluster.Admin.Host, a.cluster.Admin.CAData, aliceA)
	addContext("b", b.cluster.Admin.Host, b.cluster.Admin.CAData, aliceB)
	addContext("b-bob", b.cluster.Admin.Host, b.cluster.Admin.CAData, bobB)
	addContext("c", "https://127.0.0.1:1", nil, "carol-c-token")
	kubeconfig.CurrentContext = "a"
	kubeconfigFile := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, kubeconfigFile); err != nil {
		t.Fatal(err)
	}

	clientIn, bridgeOut := io.Pipe()
	bridgeIn, clientOut := io.Pipe()
	stderr := &syncBuffer{}
	f := factory.New(&iostreams.IOStreams{In: bridgeIn, Out: bridgeOut, ErrOut: stderr})
	f.Flags.KubeConfig = &kubeconfigFile
	cmd := mcpbridge.NewCmd(f)
	cmd.SetArgs([]string{"--contexts", "a,b,b-bob,c",
		"--endpoint", "a=" + a.endpoint, "--endpoint", "b=" + b.endpoint, "--endpoint", "b-bob=" + b.endpoint, "--endpoint", "c=" + unreachable})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	c := mcp.NewClient(&mcp.Implementation{Name: "desktop", Version: "v0"}, nil)
	cs, err := c.Connect(ctx, &mcp.IOTransport{Reader: clientIn, Writer: clientOut}, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("tools/list is the union, each with a context argument", func(t *testing.T) {
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]*mcp.Tool{}
		for _, tl := range res.Tools {
			byName[tl.Name] = tl
		}
		for _, name := range []string{"kubeask_contexts", "resources_list", "events_list", "auth_can_i"} {
			if byName[name] == nil {
				t.Errorf("tools/list lacks %s", name)
			}
		}
		direct := directTools(t, a.endpoint, aliceA)
		if len(byName) != len(direct)+1 {
			t.Errorf("tools/list has %d tools, want the %d of cluster A's endpoint and kubeask_contexts", len(byName), len(direct))
		}
		for _, name := range direct {
			if byName[name] == nil {
				t.Errorf("tools/list lacks %s, which cluster A's endpoint serves", name)
			}
		}
		list := byName["resources_list"]
		if list == nil {
			t.FailNow()
		}
		schema, _ := json.Marshal(list.InputSchema)
		var s struct {
			Properties map[string]struct {
				Type    string   `json:"type"`
				Enum    []string `json:"enum"`
				Default string   `json:"default"`
			} `json:"properties"`
			Required []string `json:"required"`
		}
		if err := json.Unmarshal(schema, &s); err != nil {
			t.Fatal(err)
		}
		p := s.Properties["context"]
		if p.Type != "string" || !slices.Equal(p.Enum, []string{"a", "b", "b-bob", "c"}) || p.Default != "a" || slices.Contains(s.Required, "context") {
			t.Errorf("the context argument of resources_list: %s", schema)
		}
		if _, ok := s.Properties["resource"]; !ok {
			t.Errorf("resources_list lost its own arguments: %s", schema)
		}
		if d := byName["events_list"].Description; !strings.Contains(d, "Not available in context(s) b, b-bob") {
			t.Errorf("events_list, which cluster B lacks, is described as %q", d)
		}
		if d := list.Description; strings.Contains(d, "Not available") {
			t.Errorf("resources_list, which every reachable cluster has, is described as %q", d)
		}
	})

	call := func(t *testing.T, tool string, args map[string]any) (string, bool) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			t.Fatalf("calling %s %v: %v", tool, args, err)
		}
		var b strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		return b.String(), res.IsError
	}
	pods := func(context string) map[string]any {
		args := map[string]any{"resource": "pods", "namespace": "team-a"}
		if context != "" {
			args["context"] = context
		}
		return args
	}

	t.Run("alice lists pods in cluster A, by default and by name", func(t *testing.T) {
		for _, ctxName := range []string{"", "a"} {
			text, isErr := call(t, "resources_list", pods(ctxName))
			if isErr || !strings.Contains(text, "checkout-1") || strings.Contains(text, "payments-1") {
				t.Errorf("context %q: error=%v:\n%s", ctxName, isErr, text)
			}
		}
	})
	t.Run("alice is forbidden in cluster B", func(t *testing.T) {
		text, isErr := call(t, "resources_list", pods("b"))
		if !isErr || !strings.Contains(text, "forbidden") || strings.Contains(text, "payments-1") {
			t.Errorf("error=%v:\n%s", isErr, text)
		}
	})
	t.Run("bob's context of cluster B lists its pods", func(t *testing.T) {
		text, isErr := call(t, "resources_list", pods("b-bob"))
		if isErr || !strings.Contains(text, "payments-1") {
			t.Errorf("error=%v:\n%s", isErr, text)
		}
	})
	t.Run("an unreachable cluster fails its calls only", func(t *testing.T) {
		text, isErr := call(t, "resources_list", pods("c"))
		if !isErr || !strings.Contains(text, `context "c"`) || !strings.Contains(text, "cannot connect to its kubeask endpoint") || !strings.Contains(text, unreachable) {
			t.Errorf("error=%v:\n%s", isErr, text)
		}
		if text, isErr := call(t, "resources_list", pods("a")); isErr || !strings.Contains(text, "checkout-1") {
			t.Errorf("cluster A after the failure: error=%v:\n%s", isErr, text)
		}
		text, isErr = call(t, "kubeask_contexts", nil)
		if isErr || !strings.Contains(text, "a (default): endpoint "+a.endpoint+", connected") || !strings.Contains(text, "c: endpoint "+unreachable+", not reachable") {
			t.Errorf("kubeask_contexts: error=%v:\n%s", isErr, text)
		}
	})
	t.Run("a tool or context that does not exist", func(t *testing.T) {
		text, isErr := call(t, "events_list", map[string]any{"namespace": "team-a", "context": "b-bob"})
		if !isErr || !strings.Contains(text, `has no tool "events_list"`) {
			t.Errorf("events_list in cluster B: error=%v:\n%s", isErr, text)
		}
		text, isErr = call(t, "resources_list", pods("nowhere"))
		if !isErr || !strings.Contains(text, `unknown context "nowhere"`) {
			t.Errorf("context nowhere: error=%v:\n%s", isErr, text)
		}
	})
	t.Run("prompts are the union too", func(t *testing.T) {
		res, err := cs.ListPrompts(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range res.Prompts {
			names = append(names, p.Name)
			if !slices.ContainsFunc(p.Arguments, func(a *mcp.PromptArgument) bool { return a.Name == "context" }) || !strings.Contains(p.Description, "Not available in context(s) b, b-bob") {
				t.Errorf("the prompt %s: %q, arguments %+v", p.Name, p.Description, p.Arguments)
			}
		}
		if !slices.Contains(names, "operate") {
			t.Fatalf("prompts: %q, want cluster A's profile operate", names)
		}
		got, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "operate", Arguments: map[string]string{"context": "a"}})
		if err != nil || len(got.Messages) == 0 {
			t.Errorf("operate in a: %v, %+v", err, got)
		}
		if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "operate", Arguments: map[string]string{"context": "b"}}); err == nil || !strings.Contains(err.Error(), `no prompt "operate"`) {
			t.Errorf("operate in b: %v", err)
		}
	})

	_ = cs.Close()
	_ = clientOut.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("kubectl ask mcp: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("kubectl ask mcp did not end with its input")
	}

	// Each endpoint received only its own contexts' tokens.
	if got := a.tokensSeen(); !slices.Equal(got, []string{aliceA}) {
		t.Errorf("cluster A's endpoint received the tokens %q, want alice's of A only", got)
	}
	if got := b.tokensSeen(); !slices.Equal(got, []string{aliceB, bobB}) {
		t.Errorf("cluster B's endpoint received the tokens %q, want alice's and bob's of B only", got)
	}
	for name, c := range map[string]*testCluster{"A": a, "B": b} {
		for _, token := range []string{aliceA, aliceB, bobB} {
			if strings.Contains(c.audit.String(), token) {
				t.Errorf("cluster %s's audit log holds a token", name)
			}
		}
	}
	if !strings.Contains(b.audit.String(), `"user":"alice"`) || !strings.Contains(b.audit.String(), `"outcome":"forbidden"`) || !strings.Contains(b.audit.String(), `"user":"bob"`) {
		t.Errorf("cluster B's audit log:\n%s", b.audit.String())
	}
	if !strings.Contains(stderr.String(), `context "c"`) {
		t.Errorf("standard error does not report context c:\n%s", stderr.String())
	}
}
