package askcli_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/askcli"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/manager"
	"github.com/kubeask/kubeask/internal/testcluster"
)

// The fixture: a real API server with the admission policies and the operator running
// in-process against a fake OpenAI-protocol model; a second API server without the
// kubeask CRDs; kubeconfig files for real certificate users:
//   - alice (group dev) may work in team-a,
//   - bob (group dev too) has alice's rights, but is not the requester of her queries,
//   - carol (group viewers) may only read queries, sessions and triggers in team-a,
//   - dave (group oncall) may read, suspend and resume (patch, update) triggers in
//     team-a, but is nobody's requester,
//   - "multi" has two contexts: main (alice, team-a) and bare (the cluster without CRDs).
var (
	cluster, bare *testcluster.Cluster
	admin         client.Client
	model         *llmtest.Server
	scripts       = llmtest.NewPrompts()
	kubeconfigs   = map[string]string{}
	// userConfigs are the users' REST configs, for what a test does as them without
	// the plugin.
	userConfigs = map[string]*rest.Config{}
	cacheDir    string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	model = llmtest.NewServer(scripts.Answer)
	defer model.Close()
	var err error
	if cluster, err = testcluster.Start(testcluster.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cluster.Stop() }()
	if bare, err = testcluster.Start(testcluster.Options{SkipCRDs: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = bare.Stop() }()
	dir, err := os.MkdirTemp("", "kubectl-ask-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	cacheDir = filepath.Join(dir, "cache")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	operatorCfg, catalog, err := setup(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	opts := manager.NewOptions()
	opts.ConfigPath = catalog
	opts.MetricsAddr, opts.ProbeAddr = "0", "0"
	opts.Namespace = "kubeask-system"
	opts.AgentWorkers = 4
	opts.WatchNamespaces = []string{"team-a"}
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

func setup(ctx context.Context, dir string) (operatorCfg *rest.Config, catalog string, err error) {
	if admin, err = cluster.Client(cluster.Admin); err != nil {
		return nil, "", err
	}
	binding := func(kind, name, ns, roleKind, role, subjectKind, subject string) client.Object {
		ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: roleKind, Name: role}
		subjects := []rbacv1.Subject{{Kind: subjectKind, APIGroup: rbacv1.GroupName, Name: subject}}
		if kind == "ClusterRoleBinding" {
			return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, RoleRef: ref, Subjects: subjects}
		}
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, RoleRef: ref, Subjects: subjects}
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "team-member"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"", "apps"}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries", "agentsessions", "agenttriggers"}, Verbs: []string{"*"}},
		}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "query-viewer"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries", "agentsessions", "agenttriggers"}, Verbs: []string{"get", "list", "watch"}},
		}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "trigger-operator"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agenttriggers"}, Verbs: []string{"get", "list", "watch", "patch", "update"}},
		}},
		binding("RoleBinding", "team-member", "team-a", "ClusterRole", "team-member", "Group", "dev"),
		binding("RoleBinding", "query-viewer", "team-a", "ClusterRole", "query-viewer", "Group", "viewers"),
		binding("RoleBinding", "trigger-operator", "team-a", "ClusterRole", "trigger-operator", "Group", "oncall"),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "checkout-1", Namespace: "team-a"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1"}}}},
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
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			return nil, "", fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	if err := cluster.InstallAdmissionPolicies(ctx, "team-a"); err != nil {
		return nil, "", err
	}
	if operatorCfg, err = cluster.OperatorConfig(ctx); err != nil {
		return nil, "", err
	}
	users := userConfigs
	for name, groups := range map[string][]string{"alice": {"dev"}, "bob": {"dev"}, "carol": {"viewers"}, "dave": {"oncall"}} {
		if users[name], err = cluster.UserConfig(name, groups...); err != nil {
			return nil, "", err
		}
	}
	contexts := func(file string, current string, ctxs map[string]kubeContext) error {
		path := filepath.Join(dir, file+".kubeconfig")
		kubeconfigs[file] = path
		return writeKubeconfig(path, current, ctxs)
	}
	if err := contexts("alice", "main", map[string]kubeContext{"main": {users["alice"], "team-a"}}); err != nil {
		return nil, "", err
	}
	if err := contexts("bob", "main", map[string]kubeContext{"main": {users["bob"], "team-a"}}); err != nil {
		return nil, "", err
	}
	if err := contexts("carol", "main", map[string]kubeContext{"main": {users["carol"], "team-a"}}); err != nil {
		return nil, "", err
	}
	if err := contexts("dave", "main", map[string]kubeContext{"main": {users["dave"], "team-a"}}); err != nil {
		return nil, "", err
	}
	if err := contexts("bare", "bare", map[string]kubeContext{"bare": {bare.Admin, "default"}}); err != nil {
		return nil, "", err
	}
	if err := contexts("multi", "main", map[string]kubeContext{"main": {users["alice"], "team-a"}, "bare": {bare.Admin, "default"}}); err != nil {
		return nil, "", err
	}
	catalog = filepath.Join(dir, "config.yaml")
	return operatorCfg, catalog, os.WriteFile(catalog, []byte(fmt.Sprintf(`
defaultModel: fake
models:
- name: fake
  provider: openai
  model: fake-model
  baseURL: %[1]s
  timeout: 60s
profiles:
- name: operate
  modes: [ReadOnly, Propose, Auto]
`, model.BaseURL())), 0o600)
}

type kubeContext struct {
	cfg       *rest.Config
	namespace string
}

// writeKubeconfig writes a kubeconfig whose contexts each have their own cluster and
// user, with the certificates inline.
func writeKubeconfig(path, current string, ctxs map[string]kubeContext) error {
	kc := clientcmdapi.NewConfig()
	for name, c := range ctxs {
		host := c.cfg.Host
		if !strings.HasPrefix(host, "https://") && !strings.HasPrefix(host, "http://") {
			host = "https://" + host
		}
		kc.Clusters[name] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: c.cfg.CAData}
		kc.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: c.cfg.CertData, ClientKeyData: c.cfg.KeyData, Token: c.cfg.BearerToken}
		kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: c.namespace}
	}
	kc.CurrentContext = current
	return clientcmd.WriteToFile(*kc, path)
}

// result is what one run of the plugin did.
type result struct {
	code        int
	out, errOut string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.code, r.out, r.errOut)
}

// kubectlAsk runs the plugin in-process as the user of kubeconfig, with stdin as its
// standard input and buffers for its output.
func kubectlAsk(t *testing.T, kubeconfig, stdin string, args ...string) result {
	t.Helper()
	return kubectlAskInterruptible(t, nil, kubeconfig, stdin, args...)
}

// kubectlAskInterruptible is kubectlAsk where interrupt, when it is closed, stands for
// the user's Ctrl-C.
func kubectlAskInterruptible(t *testing.T, interrupt <-chan struct{}, kubeconfig, stdin string, args ...string) result {
	t.Helper()
	streams, out, errOut := iostreams.Test(stdin)
	f := &factory.Factory{
		IO:    streams,
		Flags: genericclioptions.NewConfigFlags(true),
		Interruptible: func(ctx context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctx)
			if interrupt != nil {
				go func() {
					select {
					case <-interrupt:
						cancel()
					case <-ctx.Done():
					}
				}()
			}
			return ctx, cancel
		},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	full := append([]string{"--kubeconfig", kubeconfigs[kubeconfig], "--cache-dir", cacheDir}, args...)
	code := askcli.Run(ctx, f, full)
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

// reply returns a fixed answer.
func reply(text string) func(llmtest.Request) llmtest.Reply {
	return func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: text} }
}

// callThen scripts a model that makes one tool call and then answers with answer(the
// tool's result).
func callThen(name, args string, answer func(result string) string) func(llmtest.Request) llmtest.Reply {
	return func(req llmtest.Request) llmtest.Reply {
		if res := req.ToolResults(); len(res) > 0 {
			return llmtest.Reply{Text: answer(res[0].Text())}
		}
		return llmtest.Reply{Calls: []llmtest.Call{{Name: name, Args: args}}}
	}
}

func mustContain(t *testing.T, r result, where, want string) {
	t.Helper()
	text := r.out
	if where == "stderr" {
		text = r.errOut
	}
	if !strings.Contains(text, want) {
		t.Errorf("%s does not contain %q\n%s", where, want, r)
	}
}
