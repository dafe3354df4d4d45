package tools_test

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/redact"
	"github.com/kubeask/kubeask/internal/redact/redacttest"
	"github.com/kubeask/kubeask/internal/tools"
)

// plantedNamespace holds the planted values; alice (group dev) may do anything there.
const plantedNamespace = "planted"

var (
	plantOnce sync.Once
	plants    *redacttest.Plants
)

// planted plants the values once per test binary.
func planted(t *testing.T) *redacttest.Plants {
	t.Helper()
	plantOnce.Do(func() {
		ctx := t.Context()
		p := redacttest.New(plantedNamespace, "tools")
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: plantedNamespace}}); err != nil {
			t.Fatal(err)
		}
		if err := admin.Create(ctx, teamBinding(plantedNamespace, "dev")); err != nil {
			t.Fatal(err)
		}
		// kubectl create token asks for serviceaccounts/token, a subresource.
		if err := admin.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "tokens", Namespace: plantedNamespace},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}}}}); err != nil {
			t.Fatal(err)
		}
		if err := admin.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "tokens", Namespace: plantedNamespace},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "tokens"},
			Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "dev"}}}); err != nil {
			t.Fatal(err)
		}
		if err := p.Plant(ctx, admin); err != nil {
			t.Fatal(err)
		}
		plants = p
	})
	if plants == nil {
		t.Fatal("planting failed in an earlier test")
	}
	return plants
}

// TestPlantedSecretsNeverLeak plants values in every place a secret hides (Secret data
// and stringData under keys that do not look like credentials, the last-applied
// annotation of a Secret and of a Deployment, env values, a URL's password, container
// args) and reads them through every read path of every tool, for a profile without
// and with secret values. Without, no result holds any of them, as it is or
// base64-encoded, nor a service account token; with, the caller sees them but what
// may be recorded never holds one, and the values a result reveals are enough to
// scrub every one of them from text that quotes the result.
func TestPlantedSecretsNeverLeak(t *testing.T) {
	p := planted(t)
	for _, allowed := range []bool{false, true} {
		name := "secret values hidden"
		if allowed {
			name = "secret values allowed"
		}
		t.Run(name, func(t *testing.T) {
			env := kubectlEnv(t, alice, tools.OutputPolicy{AllowSecretValues: allowed, MaxBytes: 1 << 20})
			var accesses []tools.Access
			env.OnAccess = func(a tools.Access) { accesses = append(accesses, a) }
			shown := map[string]bool{}
			for _, path := range p.ReadPaths() {
				res := call(t, env, path.Tool, path.Args)
				what := path.Tool + " " + path.Args
				if path.RawOnly && !allowed {
					if !res.IsError || !strings.Contains(res.Text, "secret values") {
						t.Errorf("%s: want a refusal, got %+v", what, res)
					}
				} else if path.Want != "" && (res.IsError || !strings.Contains(res.Text, path.Want)) {
					t.Errorf("%s: want a result showing %q, got %+v", what, path.Want, res)
				}
				if leaks := p.Leaks(res.Recorded); len(leaks) > 0 {
					t.Errorf("%s: the record holds %s:\n%s", what, strings.Join(leaks, ", "), res.Recorded)
				}
				if !allowed {
					if leaks := p.Leaks(res.Text); len(leaks) > 0 {
						t.Errorf("%s: the caller sees %s:\n%s", what, strings.Join(leaks, ", "), res.Text)
					}
					if res.Text != res.Recorded || len(res.Revealed) > 0 {
						t.Errorf("%s: with secret values hidden, the record must be what the caller sees, revealing nothing", what)
					}
					continue
				}
				var scrub redact.Scrubber
				scrub.Add(res.Revealed...)
				if leaks := p.Leaks(scrub.Scrub(res.Text)); len(leaks) > 0 && (len(leaks) != 1 || leaks[0] != "a bearer token") {
					t.Errorf("%s: the values it reveals do not cover %s", what, strings.Join(leaks, ", "))
				}
				for where := range p.Seen(res.Text) {
					shown[where] = true
				}
			}
			if allowed {
				// The test can fail: every planted value is there to be leaked.
				for where := range p.Values {
					if !shown[where] {
						t.Errorf("no read path showed %s although the profile allows it: the fixture or the paths are broken", where)
					}
				}
				if !shown["a bearer token"] {
					t.Error("kubectl create token showed no token although the profile allows it")
				}
			}
			for _, a := range accesses {
				if leaks := p.Leaks(a.Name); len(leaks) > 0 {
					t.Errorf("the access log holds %s: %+v", strings.Join(leaks, ", "), a)
				}
			}
		})
	}
}

// A placeholder stands for a value kubeask hid; a change that carries one would write
// it over the real value (a model that applies back what it read, or an approved
// proposal run from its redacted record). Reads may carry one.
func TestPlaceholdersAreNeverWrittenToTheCluster(t *testing.T) {
	ctx := t.Context()
	planted(t)
	env := kubectlEnv(t, alice, tools.OutputPolicy{})
	applied := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied-back\n  namespace: " + plantedNamespace + "\nstringData:\n  blob: '<redacted: 9 bytes>'\n"
	for _, c := range []struct{ tool, args string }{
		{"resources_apply", `{"manifest":` + quote(applied) + `}`},
		{"kubectl", kubectlArgs(t, "create", "secret", "generic", "applied-back", "-n", plantedNamespace, "--from-literal=blob=<redacted: 9 bytes>")},
		{"resources_patch", `{"resource":"deployment","name":"` + redacttest.Deployment + `","namespace":"` + plantedNamespace + `","patchType":"json","patch":"[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/env/0/value\",\"value\":\"<redacted: 23 bytes>\"}]"}`},
	} {
		res := call(t, env, c.tool, c.args)
		if !res.IsError || !strings.Contains(res.Text, "placeholder") {
			t.Errorf("%s %s: want a refusal naming the placeholder, got %+v", c.tool, c.args, res)
		}
	}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: plantedNamespace, Name: "applied-back"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Secret with a placeholder for a value was created (get: %v)", err)
	}
	res := call(t, env, "resources_get", `{"resource":"configmap","name":"x-redacted","namespace":"`+plantedNamespace+`","apiVersion":"v1"}`)
	if strings.Contains(res.Text, "placeholder") {
		t.Errorf("a read was refused: %s", res.Text)
	}
	res = call(t, env, "kubectl", kubectlArgs(t, "get", "configmap", "<redacted: 9 bytes>", "-n", plantedNamespace))
	if strings.Contains(res.Text, "placeholder") || !strings.Contains(res.Text, "NotFound") {
		t.Errorf("a kubectl read naming a placeholder: %s", res.Text)
	}
}

// What the model writes into a change (a literal, a Secret's stringData) comes back in
// the printed object and goes into the access log of the MCP audit; neither keeps it.
func TestValuesInArgumentsAreRedacted(t *testing.T) {
	planted(t)
	const literal = "literal-in-args-5c1d"
	env := kubectlEnv(t, alice, tools.OutputPolicy{})
	var accesses []tools.Access
	env.OnAccess = func(a tools.Access) { accesses = append(accesses, a) }
	res := call(t, env, "kubectl", kubectlArgs(t, "create", "secret", "generic", "from-literal", "-n", plantedNamespace,
		"--from-literal=blob="+literal, "--dry-run=server", "-o", "yaml"))
	b64 := base64.StdEncoding.EncodeToString([]byte(literal))
	if res.IsError || !strings.Contains(res.Text, "from-literal") || strings.Contains(res.Text, b64) || strings.Contains(res.Recorded, b64) {
		t.Errorf("the printed Secret: %+v", res)
	}
	if len(accesses) != 1 || strings.Contains(accesses[0].Name, literal) || !strings.Contains(accesses[0].Name, "--from-literal=blob=<redacted") {
		t.Errorf("the access log: %+v", accesses)
	}
}
