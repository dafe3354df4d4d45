package main

import (
	"context"
	_ "embed"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/manifest"
)

const (
	managerNamespace      = "kubeask-system"
	managerServiceAccount = "kubeask-manager"
	// managerTokenSeconds bounds the manager's token; a dev session rarely lasts a week,
	// and a restart of `make dev` mints a new one.
	managerTokenSeconds = 7 * 24 * 3600
)

// managerRBAC is the ServiceAccount and the impersonation rights.
//
//go:embed manager-rbac.yaml
var managerRBAC []byte

// managerRoleFallback stands in for config/rbac/role.yaml until it is generated.
//
//go:embed manager-role-fallback.yaml
var managerRoleFallback []byte

// setUpManagerIdentity creates the manager's ServiceAccount and RBAC, mints its token and
// writes manager.kubeconfig. keySecrets are the Secrets in its namespace holding model
// API keys, which it may get (by name only, as the chart grants). It reports which role
// file it bound.
func setUpManagerIdentity(ctx context.Context, c client.Client, admin *rest.Config, roleFile, kubeconfigPath, server string, caPEM []byte, keySecrets []string) (string, error) {
	objs, err := manifest.Decode(managerRBAC)
	if err != nil {
		return "", fmt.Errorf("decoding manager-rbac.yaml: %w", err)
	}
	if len(keySecrets) > 0 {
		keys, err := keySecretRBAC(keySecrets)
		if err != nil {
			return "", err
		}
		objs = append(objs, keys...)
	}
	roles, roleSource, err := managerRoles(roleFile)
	if err != nil {
		return "", err
	}
	objs = append(objs, roles...)
	bindings, err := bindToManager(roles)
	if err != nil {
		return "", err
	}
	objs = append(objs, bindings...)
	if err := manifest.Apply(ctx, c, fieldManager, objs); err != nil {
		return "", fmt.Errorf("installing the manager's RBAC: %w", err)
	}

	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return "", fmt.Errorf("creating a clientset: %w", err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(managerNamespace).CreateToken(ctx, managerServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(managerTokenSeconds))}},
		metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for %s/%s: %w", managerNamespace, managerServiceAccount, err)
	}
	if err := writeKubeconfig(kubeconfigPath, server, caPEM, managerServiceAccount, credential{Token: tr.Status.Token}, managerNamespace); err != nil {
		return "", err
	}
	return roleSource, nil
}

// modelKeySecrets returns the names of the Secrets the model catalog at path takes API
// keys from (models[].apiKeySecretRef), sorted and without duplicates; none for "".
func modelKeySecrets(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	c, err := catalog.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--model-config: %w", err)
	}
	var names []string
	for _, m := range c.Models {
		if m.APIKeySecretRef != nil && !slices.Contains(names, m.APIKeySecretRef.Name) {
			names = append(names, m.APIKeySecretRef.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// keySecretRBAC lets the manager get the named Secrets of its namespace, the model API
// keys, and nothing else: a Role and its RoleBinding, kubeask-dev-model-keys.
func keySecretRBAC(names []string) ([]*unstructured.Unstructured, error) {
	const name = "kubeask-dev-model-keys"
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: managerNamespace},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: names, Verbs: []string{"get"}}},
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: managerNamespace},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: managerServiceAccount, Namespace: managerNamespace}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
	}
	var out []*unstructured.Unstructured
	for _, o := range []any{role, binding} {
		u, err := toUnstructured(o)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// managerRoles returns the roles in roleFile, or the built-in fallback when the file
// does not exist yet.
func managerRoles(roleFile string) ([]*unstructured.Unstructured, string, error) {
	if fileExists(roleFile) {
		objs, err := decodeFile(roleFile)
		return objs, roleFile, err
	}
	objs, err := manifest.Decode(managerRoleFallback)
	if err != nil {
		return nil, "", fmt.Errorf("decoding manager-role-fallback.yaml: %w", err)
	}
	return objs, "hack/dev/manager-role-fallback.yaml (" + roleFile + " does not exist yet)", nil
}

// bindToManager binds every ClusterRole and Role in roles to the manager's
// ServiceAccount, so the binding follows whatever names controller-gen generates.
func bindToManager(roles []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: managerServiceAccount, Namespace: managerNamespace}
	var out []*unstructured.Unstructured
	for _, r := range roles {
		var obj any
		ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: r.GetKind(), Name: r.GetName()}
		meta := metav1.ObjectMeta{Name: "kubeask-dev-" + r.GetName(), Namespace: r.GetNamespace()}
		switch r.GetKind() {
		case "ClusterRole":
			obj = &rbacv1.ClusterRoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
				ObjectMeta: meta, Subjects: []rbacv1.Subject{subject}, RoleRef: ref,
			}
		case "Role":
			obj = &rbacv1.RoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: meta, Subjects: []rbacv1.Subject{subject}, RoleRef: ref,
			}
		default:
			continue
		}
		u, err := toUnstructured(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the manager role manifests hold no ClusterRole or Role")
	}
	return out, nil
}

func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %T: %w", obj, err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// startManager starts the operator with the flags it documents and waits for its /readyz.
func (o *options) startManager(ctx context.Context, sup *supervisor, l layout, probePort int) error {
	probe := "127.0.0.1:" + strconv.Itoa(probePort)
	config := o.ModelConfig
	if config == "" {
		srv, path, err := startDemoModel(l.root)
		if err != nil {
			return fmt.Errorf("starting the demo model: %w", err)
		}
		// The demo model lives as long as the processes do, not as long as start-up.
		context.AfterFunc(sup.ctx, srv.Close)
		config = path
	}
	if _, err := sup.start("kubeask-manager", o.ManagerBin, o.managerArgs(l, probe, config), l.log("kubeask-manager")); err != nil {
		return err
	}
	return waitFor(ctx, "kubeask-manager /readyz", httpGetOK(newPlainHTTPClient(), "http://"+probe+"/readyz", ""))
}

// managerArgs are the manager's command line in the dev environment: its own
// kubeconfig, no leader election (one replica), admission by the policies installed
// above, the model catalog config and the health probes on probe.
func (o *options) managerArgs(l layout, probe, config string) []string {
	args := []string{
		"--kubeconfig=" + l.kubeconfig("manager"),
		"--leader-elect=false",
		"--admission=policy",
		"--config=" + config,
		// Port 0: nobody scrapes metrics in dev, and a fixed port would collide.
		"--metrics-bind-address=127.0.0.1:0",
		"--health-probe-bind-address=" + probe,
	}
	if kubectl := filepath.Join(o.BinDir, "kubectl"); fileExists(kubectl) {
		args = append(args, "--kubectl-path="+kubectl)
	}
	return args
}
