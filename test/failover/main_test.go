// Package failover runs kubeask-manager as real processes, two replicas against one API
// server, and pauses (SIGSTOP), stops (SIGTERM) and resumes them at the moments where a
// run could execute a change twice or lose a query. The manager is built with the
// faultinject tag, which lets a replica stop itself at an exact step of a run (see
// internal/agent/faultinject.go); the released binary has no such hook.
package failover_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/testcluster"
)

const namespace = "failover"

var (
	cluster      *testcluster.Cluster
	admin, alice client.Client
	scripts      = llmtest.NewPrompts()
	model        *llmtest.Server
	// managerBin is kubeask-manager built with the faultinject tag; kubeconfig and
	// catalog are its operator credentials and model catalog.
	managerBin, kubeconfig, catalog string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	model = llmtest.NewServer(scripts.Answer)
	defer model.Close()
	var err error
	if cluster, err = testcluster.Start(testcluster.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = cluster.Stop() }()
	dir, err := os.MkdirTemp("", "kubeask-failover")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := setup(context.Background(), dir); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	return m.Run()
}

func setup(ctx context.Context, dir string) error {
	managerBin = filepath.Join(dir, "kubeask-manager")
	build := exec.Command("go", "build", "-tags", "faultinject", "-o", managerBin, "./cmd/kubeask-manager")
	build.Dir, build.Stdout, build.Stderr = cluster.Root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building kubeask-manager: %w", err)
	}
	var err error
	if admin, err = cluster.Client(cluster.Admin); err != nil {
		return err
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "failover-member"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"", "apps"}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{APIGroups: []string{"agents.kubeask.dev"}, Resources: []string{"agentqueries", "agentsessions"}, Verbs: []string{"*"}},
		}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "failover-member", Namespace: namespace},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "failover-member"},
			Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "dev"}}},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	if err := cluster.InstallAdmissionPolicies(ctx, namespace); err != nil {
		return err
	}
	aliceCfg, err := cluster.UserConfig("alice", "dev")
	if err != nil {
		return err
	}
	if alice, err = cluster.Client(aliceCfg); err != nil {
		return err
	}
	operatorCfg, err := cluster.OperatorConfig(ctx)
	if err != nil {
		return err
	}
	kubeconfig = filepath.Join(dir, "operator.kubeconfig")
	if err := writeKubeconfig(operatorCfg, kubeconfig); err != nil {
		return err
	}
	catalog = filepath.Join(dir, "config.yaml")
	return os.WriteFile(catalog, fmt.Appendf(nil, `
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
`, model.BaseURL()), 0o600)
}

// writeKubeconfig writes cfg (a client-certificate config) as a kubeconfig file.
func writeKubeconfig(cfg *rest.Config, path string) error {
	read := func(data []byte, file string) ([]byte, error) {
		if len(data) > 0 || file == "" {
			return data, nil
		}
		return os.ReadFile(file)
	}
	ca, err := read(cfg.CAData, cfg.CAFile)
	if err != nil {
		return err
	}
	cert, err := read(cfg.CertData, cfg.CertFile)
	if err != nil {
		return err
	}
	key, err := read(cfg.KeyData, cfg.KeyFile)
	if err != nil {
		return err
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: ca}
	kc.AuthInfos["operator"] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "operator"}
	kc.CurrentContext = "test"
	return clientcmd.WriteToFile(*kc, path)
}

// deployment creates a deployment in the test namespace whose env vars count the
// executions of the scripted change (each appends one).
func deployment(t *testing.T, name string) {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}},
			},
		},
	}
	if err := admin.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
}

// executions is how many times the scripted change ran on deployment name.
func executions(t *testing.T, name string) int {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := admin.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	return len(d.Spec.Template.Spec.Containers[0].Env)
}
