package catalogcomplete_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli"
	"github.com/kubeask/kubeask/internal/askcli/catalogcomplete"
	"github.com/kubeask/kubeask/internal/askcli/factory"
	"github.com/kubeask/kubeask/internal/askcli/iostreams"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/testcluster"
)

const testCatalog = `
defaultModel: shared
models:
- name: shared
  provider: openai
  model: m
  baseURL: http://gateway.internal.example/v1
- name: ops-only
  provider: openai
  model: m
  allowedGroups: [ops]
profiles:
- name: operate
  description: Operate workloads, with approval.
  modes: [ReadOnly, Propose]
  allowedUsers: [alice]
`

// TestCompletionOffersWhatTheUserMayUse publishes a catalog as the manager would, readable
// by everyone authenticated, and completes kubectl ask's flags as alice (group dev), bob
// (group ops) and a user without the catalog's namespace.
func TestCompletionOffersWhatTheUserMayUse(t *testing.T) {
	cluster, err := testcluster.Start(testcluster.Options{StaticTokens: []testcluster.StaticToken{
		{Token: "alice-token-0123456789", User: "alice", UID: "uid-alice", Groups: []string{"dev"}},
		{Token: "bob-token-0123456789", User: "bob", UID: "uid-bob", Groups: []string{"ops"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	ctx := t.Context()
	admin, err := cluster.Client(cluster.Admin)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Parse([]byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	data, err := cat.Public([]agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "kubeask-system"
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: catalog.PublicConfigMap, Namespace: ns}, Data: map[string]string{catalog.PublicKey: data}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "catalog-reader", Namespace: ns}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{catalog.PublicConfigMap}, Verbs: []string{"get"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "catalog-reader", Namespace: ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "catalog-reader"},
			Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "system:authenticated"}}},
	} {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	complete := func(token string, args ...string) []string {
		t.Helper()
		kc := clientcmdapi.NewConfig()
		kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cluster.Admin.Host, CertificateAuthorityData: cluster.Admin.CAData}
		kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: token}
		kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "user", Namespace: "default"}
		kc.CurrentContext = "test"
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := clientcmd.WriteToFile(*kc, path); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		f := &factory.Factory{
			IO:    &iostreams.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Width: 80},
			Flags: genericclioptions.NewConfigFlags(true),
			Interruptible: func(ctx context.Context) (context.Context, context.CancelFunc) {
				return context.WithCancel(ctx)
			},
		}
		if code := askcli.Run(ctx, f, append([]string{"__complete", "--kubeconfig", path}, args...)); code != 0 {
			t.Fatalf("__complete %v exited %d: %s", args, code, errOut.String())
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if !strings.HasPrefix(l, ":") && l != "" {
				got = append(got, l)
			}
		}
		return got
	}
	want := func(what string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	want("alice --model", complete("alice-token-0123456789", "--model", ""), "shared")
	want("alice --profile", complete("alice-token-0123456789", "--profile", ""),
		"operate\tOperate workloads, with approval.", catalog.BuiltinProfileName+"\t"+catalog.BuiltinProfile().Description)
	want("alice --mode", complete("alice-token-0123456789", "--mode", ""), "ReadOnly", "Propose")
	want("bob --model", complete("bob-token-0123456789", "--model", ""), "shared", "ops-only")
	want("bob --profile", complete("bob-token-0123456789", "--profile", ""), catalog.BuiltinProfileName+"\t"+catalog.BuiltinProfile().Description)
	want("bob --mode", complete("bob-token-0123456789", "--mode", ""), "ReadOnly")
	want("bob on --model", complete("bob-token-0123456789", "on", "crashloop", "--model", ""), "shared", "ops-only")
	// Where nothing is published, nothing is offered (and no file names either).
	t.Setenv(catalogcomplete.NamespaceEnv, "default")
	want("alice --model without a catalog", complete("alice-token-0123456789", "--model", ""))
}
