package webui_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/manager"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/webui"
)

// The fixture: a real API server with RBAC, the admission policies and static bearer
// tokens, and the operator in-process with a scripted fake model.
//   - alice (group dev) works in team-a,
//   - bob (group ops) works in team-b only: he cannot read team-a,
//   - carol (group viewers) may read queries and sessions in team-a, nothing more.
//
// The in-cluster UI (token login, TokenReview, impersonation) runs on a loopback
// httptest server; tests of kubectl ask ui start their own.
const (
	aliceToken = "alice-5c1f0e9d8b7a6c5d4e3f"
	bobToken   = "bob-1a2b3c4d5e6f7a8b9c0d"
	carolToken = "carol-9f8e7d6c5b4a3f2e1d0c"
)

var (
	cluster     *testcluster.Cluster
	admin       client.Client
	operatorCfg *rest.Config
	model       *llmtest.Server
	scripts     = llmtest.NewPrompts()
	catalogFile string
	// ui is the in-cluster UI; auditLog its audit lines.
	ui       *httptest.Server
	auditLog = &syncBuffer{}
	tmpDir   string
	// managerUI is the address of the UI the manager serves.
	managerUI string
)

func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	model = llmtest.NewServer(scripts.Answer)
	defer model.Close()
	var err error
	// The cluster's OIDC issuer (see oidc_test.go), started first: the API server trusts it.
	if issuer, err = startIssuer(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer issuer.Close()
	cluster, err = testcluster.Start(testcluster.Options{StaticTokens: []testcluster.StaticToken{
		{Token: aliceToken, User: "alice", UID: "uid-alice", Groups: []string{"dev"}},
		{Token: bobToken, User: "bob", UID: "uid-bob", Groups: []string{"ops"}},
		{Token: carolToken, User: "carol", UID: "uid-carol", Groups: []string{"viewers"}},
	}, OIDC: issuerTrust()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cluster.Stop() }()
	if tmpDir, err = os.MkdirTemp("", "kubeask-webui-test"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(tmpDir) }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := setup(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	opts := manager.NewOptions()
	opts.ConfigPath = catalogFile
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.Namespace = "kubeask-system"
	opts.AgentWorkers = 4
	opts.StatusUpdateInterval = 0 // every step is written as it starts and ends: the tests watch them arrive
	opts.WatchNamespaces = []string{"team-a", "team-b"}
	// The manager serves the UI too (--ui-bind-address); most tests use the one below,
	// built the same way, on TLS.
	if managerUI, err = freeAddress(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts.UI.BindAddress, opts.UI.AuditLog, opts.UI.DefaultNamespace = managerUI, "", "team-a"
	opts.Complete()
	if err := opts.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- opts.Run(ctrl.LoggerInto(ctx, logr.Discard()), operatorCfg) }()
	srv, err := newInClusterUI(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "UI:", err)
		return 1
	}
	// TLS, as in the cluster (or behind its Ingress): the session cookie is Secure.
	ui = httptest.NewTLSServer(srv.Handler())
	code := m.Run()
	ui.Close()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}

func setup(ctx context.Context) error {
	var err error
	if admin, err = cluster.Client(cluster.Admin); err != nil {
		return err
	}
	rb := func(ns, role, group string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role + "-" + group, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
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
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "query-viewer"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries", "agentsessions", "agenttriggers"}, Verbs: []string{"get", "list", "watch"}},
		}},
		rb("team-a", "team-member", "dev"),
		rb("team-b", "team-member", "ops"),
		rb("team-a", "query-viewer", "viewers"),
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "team-a"},
			Spec: appsv1.DeploymentSpec{
				Replicas: new(int32(2)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "checkout"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1"}}},
				},
			},
		},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "checkout-1", Namespace: "team-a", Labels: map[string]string{"app": "checkout"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1"}}}},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	for _, ns := range []string{"team-a", "team-b"} {
		if err := cluster.InstallAdmissionPolicies(ctx, ns); err != nil {
			return err
		}
	}
	if operatorCfg, err = cluster.OperatorConfig(ctx); err != nil {
		return err
	}
	if err := publishCatalogRBAC(ctx); err != nil {
		return err
	}
	catalogFile = filepath.Join(tmpDir, "config.yaml")
	return os.WriteFile(catalogFile, []byte(fmt.Sprintf(`
defaultModel: fake
models:
- name: fake
  provider: openai
  model: fake-model
  baseURL: %s
  timeout: 60s
- name: ops-claude
  provider: anthropic
  model: claude-internal-id
  baseURL: http://llm-gateway.internal.example:8443/v1
  apiKeySecretRef: {name: llm-keys-private, key: anthropic}
  allowedGroups: [ops]
profiles:
- name: operate
  description: Operate workloads, with approval.
  modes: [ReadOnly, Propose]
- name: alice-only
  description: Alice's own profile.
  allowedUsers: [alice]
`, model.BaseURL())), 0o600)
}

// publishCatalogRBAC does what the chart does for the public catalog (catalog.yaml and
// the manager's Role): an empty kubeask-catalog ConfigMap in kubeask-system that the
// operator may get and update, and every authenticated user may get.
func publishCatalogRBAC(ctx context.Context) error {
	rule := func(verbs ...string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{catalog.PublicConfigMap}, Verbs: verbs}}
	}
	bind := func(name string, subject rbacv1.Subject) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kubeask-system"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}, Subjects: []rbacv1.Subject{subject}}
	}
	for _, o := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: catalog.PublicConfigMap, Namespace: "kubeask-system"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "catalog-writer", Namespace: "kubeask-system"}, Rules: rule("get", "update", "patch")},
		bind("catalog-writer", rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: testcluster.OperatorUser}),
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "catalog-reader", Namespace: "kubeask-system"}, Rules: rule("get")},
		bind("catalog-reader", rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "system:authenticated"}),
	} {
		if err := admin.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// newInClusterUI builds the UI as the manager does: TokenReview behind the MCP
// endpoint's cache, impersonation through the identity factory.
func newInClusterUI(ctx context.Context) (*webui.Server, error) {
	cs, err := kubernetes.NewForConfig(operatorCfg)
	if err != nil {
		return nil, err
	}
	ids, err := identity.NewFactory(operatorCfg, identity.Policy{})
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Load(catalogFile)
	if err != nil {
		return nil, err
	}
	return webui.New(ctx, webui.Config{
		Login: &webui.Login{
			Authenticator: &auth.Cached{Inner: &auth.TokenReview{Reviews: cs.AuthenticationV1().TokenReviews()}},
			Identities:    ids, Server: operatorCfg.Host,
		},
		DefaultNamespace: "team-a", Catalog: cat,
		AllowedModes: []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose},
		RateLimit:    1000, RateBurst: 1000, Audit: auditLog, Log: logr.Discard(),
	})
}

// tokenConfig is a REST config that authenticates with a static token.
func tokenConfig(token string) *rest.Config {
	cfg := rest.AnonymousClientConfig(cluster.Admin)
	cfg.BearerToken = token
	return cfg
}

// writeKubeconfig writes a kubeconfig for cfg's server with token, in namespace ns.
func writeKubeconfig(t *testing.T, token, ns string) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cluster.Admin.Host, CertificateAuthorityData: cluster.Admin.CAData}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "user", Namespace: ns}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// browserless is an HTTP client with a cookie jar that does not follow redirects, for
// tests of the protocol itself.
func browserless(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Transport: ui.Client().Transport, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// syncBuffer is a concurrency-safe audit sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// formValues is url.Values from pairs.
func formValues(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}
