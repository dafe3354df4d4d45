package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/tools"
)

// kubectlPath finds the kubectl that hack/build-controlplane.sh builds next to the
// control plane. A missing binary fails the test: it is part of the product.
func kubectlPath(t testing.TB) string {
	t.Helper()
	dirs := []string{os.Getenv("KUBEBUILDER_ASSETS")}
	if root, err := testcluster.RepoRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, "bin", "k8s", testcluster.K8sVersion))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "kubectl")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	t.Fatalf("no kubectl binary in $KUBEBUILDER_ASSETS or bin/k8s/%s: run `make controlplane` (hack/build-controlplane.sh builds it)", testcluster.K8sVersion)
	return ""
}

// kubectlEnv is the environment of id with the kubectl tool enabled.
func kubectlEnv(t *testing.T, id identity.Identity, out tools.OutputPolicy) *tools.Env {
	t.Helper()
	env := envFor(t, id, out)
	env.KubectlPath = kubectlPath(t)
	return env
}

func kubectlArgs(t *testing.T, args ...string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"args": args})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestKubectlArgumentsAreCheckedAndClassified(t *testing.T) {
	cases := []struct {
		args              []string
		stdin, allSecrets bool
		refused           string // a part of the refusal, or "" when accepted
		verb              string
		mutates           bool
	}{
		{args: []string{"get", "pods", "-n", "team-a"}, verb: "get"},
		{args: []string{"-n", "team-a", "get", "pods"}, refused: "not an allowed kubectl command"},
		{args: []string{}, refused: "empty"},
		{args: []string{"describe", "pod", "x"}, verb: "describe"},
		{args: []string{"logs", "x", "--tail", "-1", "-p", "-c", "app"}, verb: "logs"},
		{args: []string{"top", "pods"}, verb: "top"},
		{args: []string{"explain", "pods.spec"}, verb: "explain"},
		{args: []string{"events", "-n", "team-a"}, verb: "events"},
		{args: []string{"api-resources"}, verb: "api-resources"},
		{args: []string{"api-versions"}, verb: "api-versions"},
		{args: []string{"version"}, verb: "version"},
		{args: []string{"cluster-info"}, verb: "cluster-info"},
		{args: []string{"auth", "can-i", "list", "pods"}, verb: "auth can-i"},
		{args: []string{"auth", "whoami"}, verb: "auth whoami"},
		{args: []string{"auth", "reconcile", "-f", "-"}, stdin: true, verb: "auth reconcile", mutates: true},
		{args: []string{"rollout", "status", "deploy/x"}, verb: "rollout status"},
		{args: []string{"rollout", "history", "deploy/x"}, verb: "rollout history"},
		{args: []string{"rollout", "restart", "deploy/x"}, verb: "rollout restart", mutates: true},
		{args: []string{"rollout", "undo", "deploy/x"}, verb: "rollout undo", mutates: true},
		{args: []string{"rollout", "-n", "x", "status", "deploy/x"}, refused: "subcommand right after"},
		{args: []string{"diff", "-f", "-"}, stdin: true, verb: "diff"},
		{args: []string{"apply", "view-last-applied", "secret/x"}, verb: "apply view-last-applied"},
		{args: []string{"apply", "set-last-applied", "-f", "-"}, stdin: true, verb: "apply set-last-applied", mutates: true},
		{args: []string{"create", "token", "default"}, verb: "create", mutates: true},
		{args: []string{"apply", "-f", "-"}, stdin: true, verb: "apply", mutates: true},
		{args: []string{"apply", "--filename=-", "--server-side"}, stdin: true, verb: "apply", mutates: true},
		{args: []string{"create", "deployment", "x", "--image=nginx"}, verb: "create", mutates: true},
		{args: []string{"delete", "pod", "x"}, verb: "delete", mutates: true},
		{args: []string{"scale", "deploy/x", "--replicas=3"}, verb: "scale", mutates: true},
		{args: []string{"label", "pod", "x", "a=b"}, verb: "label", mutates: true},
		{args: []string{"set", "image", "deploy/x", "app=y"}, verb: "set", mutates: true},
		{args: []string{"drain", "node-1"}, verb: "drain", mutates: true},
		{args: []string{"wait", "--for=condition=Ready", "pod/x"}, verb: "wait", mutates: true},
		{args: []string{"run", "x", "--image=busybox", "--restart=Never"}, verb: "run", mutates: true},
		{args: []string{"patch", "cm", "x", "-p", `{"data":{}}`}, verb: "patch", mutates: true},
		{args: []string{"patch", "cm", "x", "-p{}"}, verb: "patch", mutates: true},

		// Plugins and unsafe commands.
		{args: []string{"krew", "install", "x"}, refused: "not an allowed kubectl command"},
		{args: []string{"ask", "why"}, refused: "not an allowed kubectl command"},
		{args: []string{"exec", "x", "--", "sh"}, refused: "not an allowed"},
		{args: []string{"attach", "x"}, refused: "not an allowed"},
		{args: []string{"cp", "x:/a", "/b"}, refused: "not an allowed"},
		{args: []string{"port-forward", "x", "80"}, refused: "not an allowed"},
		{args: []string{"proxy"}, refused: "not an allowed"},
		{args: []string{"edit", "cm", "x"}, refused: "not an allowed"},
		{args: []string{"plugin", "list"}, refused: "not an allowed"},
		{args: []string{"config", "view", "--raw"}, refused: "not an allowed"},
		{args: []string{"debug", "x"}, refused: "not an allowed"},
		{args: []string{"kustomize", "."}, refused: "not an allowed"},
		{args: []string{"cluster-info", "dump"}, refused: "dump"},
		{args: []string{"apply", "edit-last-applied", "cm/x"}, refused: "editor"},
		{args: []string{"run", "x", "--image=busybox", "-i"}, refused: "-i"},
		{args: []string{"run", "x", "--image=busybox", "-it"}, refused: "-i"},
		{args: []string{"run", "x", "--image=busybox", "--stdin"}, refused: "--stdin"},
		{args: []string{"run", "x", "--image=busybox", "--tty=true"}, refused: "--tty"},
		{args: []string{"run", "x", "--image=busybox", "--rm", "--attach"}, refused: "--attach"},

		// Credentials and connection, in every form kubectl reads them.
		{args: []string{"get", "pods", "--as=system:admin"}, refused: "--as"},
		{args: []string{"get", "pods", "--as", "system:admin"}, refused: "--as"},
		{args: []string{"get", "pods", "--as-group=system:masters"}, refused: "--as-group"},
		{args: []string{"get", "pods", "--as_group=system:masters"}, refused: "--as-group"},
		{args: []string{"get", "pods", "--as-uid=0"}, refused: "--as-uid"},
		{args: []string{"get", "pods", "--as-user-extra=a=b"}, refused: "--as-user-extra"},
		{args: []string{"get", "pods", "--kubeconfig=/etc/kubernetes/admin.conf"}, refused: "--kubeconfig"},
		{args: []string{"get", "pods", "--token", "abc"}, refused: "--token"},
		{args: []string{"get", "pods", "--server=https://evil"}, refused: "--server"},
		{args: []string{"get", "pods", "-s", "https://evil"}, refused: "-s"},
		{args: []string{"get", "pods", "-shttps://evil"}, refused: "-s"},
		{args: []string{"get", "pods", "-As", "https://evil"}, refused: "-s"},
		{args: []string{"get", "pods", "-l", "--", "--server=https://evil"}, refused: "--server"},
		{args: []string{"get", "pods", "--user=admin"}, refused: "--user"},
		{args: []string{"get", "pods", "--cluster=x"}, refused: "--cluster"},
		{args: []string{"get", "pods", "--context=admin"}, refused: "--context"},
		{args: []string{"get", "pods", "--username=a", "--password=b"}, refused: "--username"},
		{args: []string{"get", "pods", "--client-certificate=/x"}, refused: "--client-certificate"},
		{args: []string{"get", "pods", "--client-key=/x"}, refused: "--client-key"},
		{args: []string{"get", "pods", "--certificate-authority=/x"}, refused: "--certificate-authority"},
		{args: []string{"get", "pods", "--insecure-skip-tls-verify"}, refused: "--insecure-skip-tls-verify"},
		{args: []string{"get", "pods", "--tls-server-name=x"}, refused: "--tls-server-name"},
		{args: []string{"get", "pods", "--cache-dir=/tmp/x"}, refused: "--cache-dir"},
		{args: []string{"get", "pods", "--proxy-url=http://evil"}, refused: "--proxy-url"},
		{args: []string{"get", "pods", "-v=9"}, refused: "-v"},

		// Local files and URLs.
		{args: []string{"apply", "-f", "/etc/passwd"}, refused: "cannot be read"},
		{args: []string{"apply", "-f", "https://example.com/x.yaml"}, refused: "cannot be read"},
		{args: []string{"apply", "--filename", "x.yaml"}, refused: "cannot be read"},
		{args: []string{"apply", "-Rf", "dir"}, refused: "cannot be read"},
		{args: []string{"apply", "-fx.yaml"}, refused: "cannot be read"},
		{args: []string{"apply", "-f", "-"}, refused: "stdin field, which is empty"},
		{args: []string{"apply", "-k", "dir"}, refused: "-k"},
		{args: []string{"apply", "--kustomize=dir"}, refused: "--kustomize"},
		{args: []string{"create", "configmap", "x", "--from-file=/etc/passwd"}, refused: "--from-file"},
		{args: []string{"create", "secret", "tls", "x", "--cert=a", "--key=b"}, refused: "--cert"},
		{args: []string{"get", "pods", "-o", "go-template-file=/var/run/secrets/kubernetes.io/serviceaccount/token"}, allSecrets: true, refused: "local file"},
		{args: []string{"get", "pods", "-ojsonpath-file=/x"}, allSecrets: true, refused: "local file"},
		{args: []string{"get", "pods"}, stdin: true, refused: "no -f - reads it"},

		// Streaming.
		{args: []string{"get", "pods", "-w"}, refused: "-w"},
		{args: []string{"get", "pods", "--watch"}, refused: "--watch"},
		{args: []string{"get", "pods", "--watch=false"}, verb: "get"},
		{args: []string{"logs", "x", "-f"}, refused: "--follow"},
		{args: []string{"logs", "x", "--follow"}, refused: "--follow"},

		// Output the policy cannot redact.
		{args: []string{"get", "secret", "db", "-o", "jsonpath={.data}"}, refused: "secret values"},
		{args: []string{"get", "secret", "db", "-o", "jsonpath={.data}"}, allSecrets: true, verb: "get"},
		{args: []string{"get", "secret", "db", "-ogo-template={{.data}}"}, refused: "secret values"},
		{args: []string{"get", "pods", "-o", "custom-columns=N:.metadata.name"}, refused: "secret values"},
		{args: []string{"get", "--raw", "/api/v1/namespaces/team-a/secrets"}, refused: "--raw"},
		{args: []string{"get", "--raw", "/api/v1/namespaces/team-a/secrets"}, allSecrets: true, verb: "get"},
		{args: []string{"set", "env", "deploy/x", "--list", "--resolve"}, refused: "--resolve"},
		{args: []string{"get", "secret", "db", "-o", "yaml"}, verb: "get"},
		{args: []string{"get", "pods", "-owide"}, verb: "get"},
	}
	for _, tc := range cases {
		verb, mutates, err := tools.ParseKubectlArgs(tc.args, tc.stdin, tc.allSecrets)
		name := fmt.Sprintf("%q", tc.args)
		if tc.refused != "" {
			var ae tools.ArgumentError
			if err == nil || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("%s: err = %v, want a refusal mentioning %q", name, err, tc.refused)
			} else if !errors.As(err, &ae) {
				t.Errorf("%s: refusal %T is not an ArgumentError", name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: refused: %v", name, err)
			continue
		}
		if verb != tc.verb || mutates != tc.mutates {
			t.Errorf("%s: verb %q mutates %v, want %q %v", name, verb, mutates, tc.verb, tc.mutates)
		}
	}
}

func TestKubectlToolIsClassifiedPerCall(t *testing.T) {
	tool, ok := registry.Get("kubectl")
	if !ok {
		t.Fatal("no kubectl tool in Builtin()")
	}
	if tool.Annotations.ReadOnly || !tool.Annotations.Destructive {
		t.Errorf("annotations %+v: want not read-only, destructive", tool.Annotations)
	}
	for args, want := range map[string]bool{
		`{"args":["get","pods"]}`:                      false,
		`{"args":["rollout","history","deploy/x"]}`:    false,
		`{"args":["scale","deploy/x","--replicas=3"]}`: true,
		`{"args":["get","pods","--as=system:admin"]}`:  true, // refused: fail safe
		`{"args":"get pods"}`:                          true, // not an argv: fail safe
		`{}`:                                           true,
	} {
		if got := tool.Mutates(json.RawMessage(args)); got != want {
			t.Errorf("Mutates(%s) = %v, want %v", args, got, want)
		}
	}
}

func TestKubectlActsAsTheRequester(t *testing.T) {
	ctx := t.Context()
	env := kubectlEnv(t, alice, tools.OutputPolicy{})

	res := call(t, env, "kubectl", kubectlArgs(t, "get", "pods", "-n", "team-a"))
	if res.IsError || !strings.Contains(res.Text, "checkout-1") {
		t.Fatalf("alice: kubectl get pods -n team-a: %+v", res)
	}
	res = call(t, env, "kubectl", kubectlArgs(t, "get", "pods", "-n", "team-b"))
	if !res.IsError || !strings.Contains(res.Text, "Forbidden") || !strings.Contains(res.Text, `"alice"`) || strings.Contains(res.Text, "payments") {
		t.Fatalf("alice: kubectl get pods -n team-b: want a readable Forbidden naming alice, got %+v", res)
	}
	// The operator may impersonate anyone, but kubectl gets no way to use that.
	res = call(t, env, "kubectl", kubectlArgs(t, "get", "pods", "-n", "team-b", "--as=system:admin", "--as-group=system:masters"))
	if !res.IsError || !strings.Contains(res.Text, "--as") || strings.Contains(res.Text, "payments") {
		t.Fatalf("alice escaping with --as: %+v", res)
	}
	res = call(t, env, "kubectl", kubectlArgs(t, "get", "pods", "-A"))
	if !res.IsError || !strings.Contains(res.Text, "Forbidden") {
		t.Fatalf("alice listing all namespaces: %+v", res)
	}

	// Every impersonation field reaches the API server.
	full := identity.Identity{Username: "alice", UID: "uid-alice-1", Groups: []string{"dev", "system:authenticated"}, Extra: map[string][]string{"scopes": {"team-a-only"}}}
	res = call(t, kubectlEnv(t, full, tools.OutputPolicy{}), "kubectl", kubectlArgs(t, "auth", "whoami", "-o", "json"))
	for _, want := range []string{`"username": "alice"`, `"uid": "uid-alice-1"`, `"dev"`, `"team-a-only"`} {
		if res.IsError || !strings.Contains(res.Text, want) {
			t.Errorf("auth whoami lacks %s: %s", want, res.Text)
		}
	}

	// The fixture's deployment is shared: put its replicas back for the tests after this.
	t.Cleanup(func() {
		d := &appsv1.Deployment{}
		if err := admin.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: "checkout"}, d); err != nil {
			t.Error(err)
			return
		}
		d.Spec.Replicas = new(int32(2))
		if err := admin.Update(context.Background(), d); err != nil {
			t.Error(err)
		}
	})
	scale := kubectlArgs(t, "scale", "deployment", "checkout", "--replicas=3", "-n", "team-a")
	tool, _ := registry.Get("kubectl")
	if !tool.Mutates(json.RawMessage(scale)) {
		t.Error("kubectl scale is not classified as mutating")
	}
	res = call(t, env, "kubectl", scale)
	if res.IsError || !strings.Contains(res.Text, "scaled") {
		t.Fatalf("alice: kubectl scale: %+v", res)
	}
	d := &appsv1.Deployment{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "checkout"}, d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %d after kubectl scale, want 3", *d.Spec.Replicas)
	}
	res = call(t, kubectlEnv(t, bob, tools.OutputPolicy{}), "kubectl", scale)
	if !res.IsError || !strings.Contains(res.Text, `"bob"`) {
		t.Fatalf("bob scaling in team-a: %+v", res)
	}

	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-kubectl\ndata:\n  a: b\n"
	res = call(t, env, "kubectl", `{"args":["apply","-n","team-a","-f","-"],"stdin":`+quote(manifest)+`}`)
	if res.IsError || !strings.Contains(res.Text, "configmap/from-kubectl") {
		t.Fatalf("alice: kubectl apply -f - (stdin): %+v", res)
	}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "from-kubectl"}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("the applied configmap: %v", err)
	}
}

func TestKubectlArgumentsAreNotInterpretedByAShell(t *testing.T) {
	env := kubectlEnv(t, alice, tools.OutputPolicy{})
	// A shell would split, substitute or pipe these; the API server must see each one
	// whole, as a pod name.
	for _, name := range []string{"a;b", "$(id)", "x|id", "`id`", "a && id", "'q'"} {
		res := call(t, env, "kubectl", kubectlArgs(t, "get", "pods", name, "-n", "team-a"))
		if !res.IsError || !strings.Contains(res.Text, "NotFound") || !strings.Contains(res.Text, `"`+name+`" not found`) {
			t.Errorf("get pods %q: want NotFound for the literal name, got %+v", name, res)
		}
	}
}

func TestKubectlRedactsSecretValuesUnlessAllowed(t *testing.T) {
	env := kubectlEnv(t, alice, tools.OutputPolicy{})
	for _, args := range [][]string{
		{"get", "secret", "db", "-n", "team-a", "-o", "yaml"},
		{"get", "secrets", "-n", "team-a", "-o", "json"},
	} {
		res := call(t, env, "kubectl", kubectlArgs(t, args...))
		if res.IsError || strings.Contains(res.Text, "aHVudGVy") || !strings.Contains(res.Text, "<redacted") {
			t.Errorf("%q: secret not redacted: %s", args, res.Text)
		}
	}
	// kubectl prints the objects it found even when another is missing, then fails.
	res := call(t, env, "kubectl", kubectlArgs(t, "get", "secret", "db", "nope", "-n", "team-a", "-o", "yaml"))
	if !res.IsError || !strings.Contains(res.Text, "NotFound") || strings.Contains(res.Text, "aHVudGVy") {
		t.Errorf("partly failed get of a secret: %s", res.Text)
	}
	res = call(t, env, "kubectl", kubectlArgs(t, "describe", "pod", "checkout-1", "-n", "team-a"))
	if res.IsError || strings.Contains(res.Text, "hunter2") || !strings.Contains(res.Text, "MODE:") || !strings.Contains(res.Text, "fast") {
		t.Errorf("describe: credential env var not redacted, or plain one redacted: %s", res.Text)
	}
	res = call(t, env, "kubectl", kubectlArgs(t, "get", "secret", "db", "-n", "team-a", "-o", "jsonpath={.data.password}"))
	if !res.IsError || strings.Contains(res.Text, "aHVudGVy") {
		t.Errorf("jsonpath on a secret: %+v", res)
	}
	res = call(t, kubectlEnv(t, alice, tools.OutputPolicy{AllowSecretValues: true}), "kubectl", kubectlArgs(t, "get", "secret", "db", "-n", "team-a", "-o", "jsonpath={.data.password}"))
	if res.IsError || !strings.Contains(res.Text, "aHVudGVyMi12ZXJ5LXNlY3JldA==") {
		t.Errorf("secret value hidden although the profile allows it: %+v", res)
	}
}

func TestKubectlRunsInAPrivateEnvironment(t *testing.T) {
	// A stand-in for kubectl (this test binary, see TestMain) reports what it was given.
	spy := filepath.Join(t.TempDir(), kubectlSpyName)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, spy); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("KUBECTL_EXTERNAL_DIFF", "evil")
	t.Setenv("KUBECONFIG", "/etc/kubernetes/admin.conf")

	env := envFor(t, identity.Identity{Username: "alice", UID: "u-1", Groups: []string{"dev"}, Extra: map[string][]string{"scopes": {"s1"}}}, tools.OutputPolicy{})
	env.KubectlPath = spy
	res := call(t, env, "kubectl", kubectlArgs(t, "get", "pods", "a;b"))
	if res.IsError {
		t.Fatalf("spy: %s", res.Text)
	}
	var got spyReport
	if err := json.Unmarshal([]byte(res.Text), &got); err != nil {
		t.Fatalf("spy report %q: %v", res.Text, err)
	}
	if strings.Join(got.Args, " ") != "get pods a;b" {
		t.Errorf("args = %q", got.Args)
	}
	dir := filepath.Dir(got.Kubeconfig)
	if filepath.Dir(dir) != tmp || got.KubeconfigMode != "-rw-------" || got.DirMode != "drwx------" {
		t.Errorf("kubeconfig %s (mode %s) in %s (mode %s): want a private file in a private directory under %s", got.Kubeconfig, got.KubeconfigMode, dir, got.DirMode, tmp)
	}
	if got.Env["HOME"] != dir || got.Env["PATH"] != "" || got.Env["KUBECONFIG"] != got.Kubeconfig || got.Env["KUBECTL_EXTERNAL_DIFF"] == "evil" {
		t.Errorf("child environment %v", got.Env)
	}
	for k := range got.Env {
		if !strings.HasPrefix(k, "KUBECTL_") && !strings.Contains(k, "PROXY") && !strings.Contains(k, "proxy") &&
			k != "HOME" && k != "PATH" && k != "KUBECONFIG" && k != "TMPDIR" {
			t.Errorf("inherited variable %s", k)
		}
	}
	for _, want := range []string{"as: alice", "as-uid: u-1", "- dev", "scopes:", "- s1", "client-certificate-data:", "certificate-authority-data:", "server: https://"} {
		if !strings.Contains(got.KubeconfigText, want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, got.KubeconfigText)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the private directory %s is still there after the call (%v)", dir, err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left behind in TMPDIR: %v", entries)
	}
}

func TestKubectlUnavailableIsReadable(t *testing.T) {
	res := call(t, envFor(t, alice, tools.OutputPolicy{}), "kubectl", kubectlArgs(t, "get", "pods"))
	if !res.IsError || !strings.Contains(res.Text, "unavailable") {
		t.Fatalf("kubectl without a binary: %+v", res)
	}
}

// kubectlSpyName is the name under which the test binary acts as a fake kubectl.
const kubectlSpyName = "kubectl-spy"

type spyReport struct {
	Args           []string          `json:"args"`
	Env            map[string]string `json:"env"`
	Kubeconfig     string            `json:"kubeconfig"`
	KubeconfigMode string            `json:"kubeconfigMode"`
	DirMode        string            `json:"dirMode"`
	KubeconfigText string            `json:"kubeconfigText"`
}

// kubectlSpy prints what the kubectl tool gave it, as JSON.
func kubectlSpy() int {
	r := spyReport{Args: os.Args[1:], Env: map[string]string{}, Kubeconfig: os.Getenv("KUBECONFIG")}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		r.Env[k] = v
	}
	if fi, err := os.Stat(r.Kubeconfig); err == nil {
		r.KubeconfigMode = fi.Mode().String()
	}
	if fi, err := os.Stat(filepath.Dir(r.Kubeconfig)); err == nil {
		r.DirMode = fi.Mode().String()
	}
	b, _ := os.ReadFile(r.Kubeconfig)
	r.KubeconfigText = string(b)
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}
