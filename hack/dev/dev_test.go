package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// controlPlaneDir finds the binaries the way `make test` provides them, and fails (not
// skips) without them: this test is the only check that `make dev` works.
func controlPlaneDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		root, err := findRepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "bin", "k8s", k8sVersion)
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		if err := checkExecutable(filepath.Join(dir, b)); err != nil {
			t.Fatalf("control-plane binaries missing in %s: %v; run `make controlplane` (or set KUBEBUILDER_ASSETS)", dir, err)
		}
	}
	return dir
}

// TestDevEnvironment runs the whole environment (without the operator) against the real
// control-plane binaries and checks it as the demo users would use it.
func TestDevEnvironment(t *testing.T) {
	o := newOptions(t.Output())
	o.StateDir = t.TempDir()
	o.BinDir = controlPlaneDir(t)
	o.NoManager = true
	o.ReadyFile = filepath.Join(o.StateDir, "ready.json")
	o.GracePeriod = 15 * time.Second
	// A catalog with a model whose key is in a Secret: the manager may read that Secret,
	// and no other (issue 15 §5).
	o.ModelConfig = filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(o.ModelConfig, []byte(keyedCatalog("http://127.0.0.1:1/v1")), 0o600); err != nil {
		t.Fatal(err)
	}
	info, shutdown := startEnvironment(t, o)

	t.Run("the demo workloads are there when ready", func(t *testing.T) {
		cfg, err := restConfigFromFile(info.Kubeconfigs["admin"])
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Checked from onReady's view: startEnvironment returns right after it.
		for ns, want := range map[string]int{"team-a": 2, "team-b": 1, "shop": 1} {
			pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
			if err != nil || len(pods.Items) != want {
				t.Errorf("pods in %s at ready: %d (%v), want %d", ns, len(pods.Items), err, want)
			}
		}
	})

	t.Run("ready file describes the environment", func(t *testing.T) {
		data, err := os.ReadFile(o.ReadyFile)
		if err != nil {
			t.Fatal(err)
		}
		var fromFile readyInfo
		if err := json.Unmarshal(data, &fromFile); err != nil {
			t.Fatal(err)
		}
		if fromFile.Server != info.Server || len(fromFile.Processes) != 4 || len(fromFile.Kubeconfigs) != 4 {
			t.Errorf("ready file = %+v, want the server %s, 4 processes and 4 kubeconfigs", fromFile, info.Server)
		}
	})

	t.Run("kubeask is the chart's release, which helm upgrades", func(t *testing.T) {
		cfg, err := restConfigFromFile(info.Kubeconfigs["admin"])
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d, err := cs.AppsV1().Deployments(managerNamespace).Get(t.Context(), releaseName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the chart's Deployment: %v", err)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 0 || d.Labels["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("the chart's Deployment has replicas %v and labels %v, want 0 replicas, managed by Helm", d.Spec.Replicas, d.Labels)
		}
		// The local manager runs with the chart's command line, made local.
		args := o.managerArgs(layout{root: o.StateDir}, "127.0.0.1:1", "/config.yaml")
		for _, want := range []string{"--kubeconfig=" + info.Kubeconfigs["manager"], "--namespace=" + managerNamespace, "--admission=policy",
			"--config=/config.yaml", "--allowed-mode=Auto", "--impersonate-extra=authentication.kubernetes.io/credential-id", "--leader-elect=false"} {
			if !slices.Contains(args, want) {
				t.Errorf("the manager's args %v lack %s", args, want)
			}
		}
		// docs/dev.md and docs/install.md: helm upgrades the release make dev installed (it
		// used to refuse to adopt objects make dev had applied itself).
		root, err := findRepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), o.HelmBin, "upgrade", releaseName, filepath.Join(root, "charts", "kubeask"),
			"--namespace", managerNamespace, "--reset-then-reuse-values", "--kubeconfig", info.Kubeconfigs["admin"])
		cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("helm upgrade of make dev's release: %v\n%s", err, out)
		}
		d, err = cs.AppsV1().Deployments(managerNamespace).Get(t.Context(), releaseName, metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 0 {
			t.Errorf("after the upgrade with the values reused: %v, replicas %v, want 0", err, d.Spec.Replicas)
		}
	})

	clients := map[string]*kubernetes.Clientset{}
	ctrl := map[string]client.Client{}
	for user, path := range info.Kubeconfigs {
		cfg, err := restConfigFromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if clients[user], err = kubernetes.NewForConfig(cfg); err != nil {
			t.Fatal(err)
		}
		if ctrl[user], err = newClient(cfg); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("every kubeconfig authenticates as its user", func(t *testing.T) {
		want := map[string]struct{ name, group string }{
			"admin":   {"admin", "system:masters"},
			"alice":   {"alice", "dev"},
			"bob":     {"bob", "ops"},
			"manager": {"system:serviceaccount:kubeask-system:kubeask", "system:serviceaccounts:kubeask-system"},
		}
		for user, w := range want {
			cs, ok := clients[user]
			if !ok {
				t.Errorf("no kubeconfig for %s", user)
				continue
			}
			r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if err != nil {
				t.Errorf("%s: SelfSubjectReview: %v", user, err)
				continue
			}
			got := r.Status.UserInfo
			if got.Username != w.name || !slices.Contains(got.Groups, w.group) {
				t.Errorf("%s authenticates as %s %v, want %s in group %s", user, got.Username, got.Groups, w.name, w.group)
			}
		}
	})

	t.Run("each person reads only their own namespace, and no secrets", func(t *testing.T) {
		tests := []struct {
			user, namespace string
			allowed         bool
		}{
			{"alice", "team-a", true},
			{"alice", "team-b", false},
			{"bob", "team-b", true},
			{"bob", "team-a", false},
		}
		for _, tt := range tests {
			_, err := clients[tt.user].CoreV1().Pods(tt.namespace).List(t.Context(), metav1.ListOptions{})
			switch {
			case tt.allowed && err != nil:
				t.Errorf("%s listing pods in %s: %v, want allowed", tt.user, tt.namespace, err)
			case !tt.allowed && !apierrors.IsForbidden(err):
				t.Errorf("%s listing pods in %s: err = %v, want Forbidden", tt.user, tt.namespace, err)
			}
		}
		if _, err := clients["alice"].CoreV1().Secrets("team-a").List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("alice listing secrets in team-a: err = %v, want Forbidden", err)
		}
		if _, err := clients["alice"].AppsV1().Deployments("team-a").Get(t.Context(), "checkout", metav1.GetOptions{}); err != nil {
			t.Errorf("alice getting the checkout demo Deployment: %v", err)
		}
		if _, err := clients["bob"].AppsV1().Deployments("team-b").Get(t.Context(), "payments", metav1.GetOptions{}); err != nil {
			t.Errorf("bob getting the payments demo Deployment: %v", err)
		}
	})

	t.Run("alice may ask in team-a only, the manager may impersonate", func(t *testing.T) {
		checks := []struct {
			user string
			attr authorizationv1.ResourceAttributes
			want bool
		}{
			{"alice", authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "create", Group: "agents.kubeask.dev", Resource: "agentqueries"}, true},
			{"alice", authorizationv1.ResourceAttributes{Namespace: "team-b", Verb: "create", Group: "agents.kubeask.dev", Resource: "agentqueries"}, false},
			{"alice", authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "delete", Group: "agents.kubeask.dev", Resource: "agentsessions"}, true},
			// The chart's constrained impersonation (KEP-5284): the manager may send alice's
			// identity, and act as her only with the verbs of the allowed modes.
			{"manager", authorizationv1.ResourceAttributes{Verb: "impersonate:user-info", Group: "authentication.k8s.io", Resource: "users", Name: "alice"}, true},
			{"manager", authorizationv1.ResourceAttributes{Verb: "impersonate:user-info", Group: "authentication.k8s.io", Resource: "groups", Name: "dev"}, true},
			{"manager", authorizationv1.ResourceAttributes{Verb: "impersonate:user-info", Group: "authentication.k8s.io", Resource: "uids", Name: "dev-uid-alice"}, true},
			// The extra key of service-account tokens: the agent acting as a ServiceAccount-
			// authenticated requester (a GitOps pipeline) must carry it.
			{"manager", authorizationv1.ResourceAttributes{Verb: "impersonate:user-info", Group: "authentication.k8s.io", Resource: "userextras", Subresource: "authentication.kubernetes.io/credential-id"}, true},
			{"manager", authorizationv1.ResourceAttributes{Verb: "impersonate:serviceaccount", Group: "authentication.k8s.io", Resource: "serviceaccounts", Namespace: "team-a", Name: "default"}, true},
			{"manager", authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "impersonate-on:user-info:patch", Group: "apps", Resource: "deployments"}, true},
			{"manager", authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "impersonate-on:user-info:deletecollection", Resource: "pods"}, false},
			// Not the legacy verb, which would let it act as anyone for anything.
			{"manager", authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "users", Name: "alice"}, false},
			{"manager", authorizationv1.ResourceAttributes{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, true},
			{"manager", authorizationv1.ResourceAttributes{Verb: "create", Group: "authentication.k8s.io", Resource: "tokenreviews"}, true},
			{"manager", authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "list", Resource: "secrets"}, false},
			// The README's walkthrough: alice scales checkout once she approved it; in the
			// shared namespace shop both read and ask, neither changes anything.
			{"alice", authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "patch", Group: "apps", Resource: "deployments", Subresource: "scale", Name: "checkout"}, true},
			{"alice", authorizationv1.ResourceAttributes{Namespace: "shop", Verb: "patch", Group: "apps", Resource: "deployments", Subresource: "scale"}, false},
			{"bob", authorizationv1.ResourceAttributes{Namespace: "shop", Verb: "list", Resource: "pods"}, true},
			{"bob", authorizationv1.ResourceAttributes{Namespace: "shop", Verb: "update", Group: "agents.kubeask.dev", Resource: "agentqueries"}, true},
			{"alice", authorizationv1.ResourceAttributes{Namespace: "shop", Verb: "create", Group: "agents.kubeask.dev", Resource: "agentqueries"}, true},
			{"bob", authorizationv1.ResourceAttributes{Namespace: "shop", Verb: "patch", Group: "apps", Resource: "deployments"}, false},
			// --model-config's key Secret, by name only.
			{"manager", authorizationv1.ResourceAttributes{Namespace: managerNamespace, Verb: "get", Resource: "secrets", Name: "llm-keys"}, true},
			{"manager", authorizationv1.ResourceAttributes{Namespace: managerNamespace, Verb: "get", Resource: "secrets", Name: "other"}, false},
		}
		for _, c := range checks {
			r, err := clients[c.user].AuthorizationV1().SelfSubjectAccessReviews().Create(t.Context(),
				&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &c.attr}},
				metav1.CreateOptions{})
			if err != nil {
				t.Errorf("%s: SelfSubjectAccessReview: %v", c.user, err)
				continue
			}
			if r.Status.Allowed != c.want {
				t.Errorf("%s may %s %s/%s in %q: %v, want %v", c.user, c.attr.Verb, c.attr.Resource, c.attr.Subresource, c.attr.Namespace, r.Status.Allowed, c.want)
			}
		}
	})

	t.Run("admission stamps alice as the requester of her query", func(t *testing.T) {
		// Policies take effect asynchronously; Run waits for them, and this polls anyway so
		// the assertion is about the stored object, not about timing.
		deadline := time.Now().Add(15 * time.Second)
		for {
			q := &agentsv1alpha1.AgentQuery{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "why-pending-", Namespace: "team-a"},
				Spec: agentsv1alpha1.AgentQuerySpec{
					Prompt: "Why are the checkout pods not running?",
					// A forged requester: admission must overwrite it.
					Requester: &agentsv1alpha1.Requester{Username: "bob"},
				},
			}
			if err := ctrl["alice"].Create(t.Context(), q); err != nil {
				t.Fatalf("alice creating an AgentQuery in team-a: %v", err)
			}
			var stored agentsv1alpha1.AgentQuery
			if err := ctrl["admin"].Get(t.Context(), client.ObjectKeyFromObject(q), &stored); err != nil {
				t.Fatal(err)
			}
			r := stored.Spec.Requester
			if r != nil && r.Username == "alice" {
				if r.UID != "dev-uid-alice" || !slices.Contains(r.Groups, "dev") {
					t.Errorf("stored requester = %+v, want uid dev-uid-alice and group dev", *r)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("stored spec.requester = %+v, want username alice", r)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	t.Run("the audit log shows the operator acting as alice", func(t *testing.T) {
		stopManager := startManagerInProcess(t, o)
		const prompt = "Why are the checkout pods not running? (audit test)"
		q := &agentsv1alpha1.AgentQuery{
			ObjectMeta: metav1.ObjectMeta{Name: "audited", Namespace: "team-a"},
			Spec:       agentsv1alpha1.AgentQuerySpec{Prompt: prompt},
		}
		if err := ctrl["alice"].Create(t.Context(), q); err != nil {
			t.Fatalf("alice creating an AgentQuery: %v", err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if err := ctrl["alice"].Get(t.Context(), client.ObjectKeyFromObject(q), q); err != nil {
				t.Fatal(err)
			}
			if q.Status.Phase.Finished() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the query is still %q after 2 minutes; conditions %+v", q.Status.Phase, q.Status.Conditions)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if q.Status.Phase != agentsv1alpha1.QuerySucceeded {
			t.Fatalf("the query ended %s: %s; conditions %+v", q.Status.Phase, q.Status.Summary, q.Status.Conditions)
		}
		if err := stopManager(); err != nil {
			t.Errorf("the manager stopped with %v", err)
		}

		const managerUser = "system:serviceaccount:" + managerNamespace + ":" + managerServiceAccount
		// The demo model's first tool lists team-a's pods: the operator's request, made with
		// its own token, as alice, with her uid and groups.
		e := findAuditEvent(t, info.AuditLog, "the manager listing pods in team-a as alice", func(e auditEvent) bool {
			return e.User.Username == managerUser && e.ImpersonatedUser != nil && e.ImpersonatedUser.Username == "alice" &&
				e.Verb == "list" && e.ObjectRef != nil && e.ObjectRef.Resource == "pods" && e.ObjectRef.Namespace == "team-a"
		})
		if e.ImpersonatedUser.UID != "dev-uid-alice" || !slices.Contains(e.ImpersonatedUser.Groups, "dev") || e.ResponseStatus == nil || e.ResponseStatus.Code != 200 {
			t.Errorf("impersonated list = %+v, impersonating %+v, status %+v; want alice's uid and group, and 200", e, *e.ImpersonatedUser, e.ResponseStatus)
		}
		// The query itself, at Request level: alice created it, and the body holds the prompt.
		e = findAuditEvent(t, info.AuditLog, "alice creating the AgentQuery", func(e auditEvent) bool {
			return e.User.Username == "alice" && e.Verb == "create" && e.ObjectRef != nil &&
				e.ObjectRef.Resource == "agentqueries" && e.ObjectRef.Name == "audited"
		})
		if e.Level != "Request" || !bytes.Contains(e.RequestObject, []byte(prompt)) {
			t.Errorf("alice's create is logged at level %s with request %s; want Request with the prompt", e.Level, e.RequestObject)
		}
		// Everything else at Metadata: the demo Secret's value never reaches the log.
		e = findAuditEvent(t, info.AuditLog, "admin writing the demo Secret", func(e auditEvent) bool {
			return e.User.Username == "admin" && e.ObjectRef != nil && e.ObjectRef.Resource == "secrets" && e.ObjectRef.Name == "checkout-db"
		})
		if e.Level != "Metadata" || len(e.RequestObject) != 0 {
			t.Errorf("the demo Secret's write is logged at level %s with request %s; want Metadata without a body", e.Level, e.RequestObject)
		}
		if log, err := os.ReadFile(info.AuditLog); err != nil || bytes.Contains(log, []byte("bm90LWEtcmVhbC1wYXNzd29yZA")) {
			t.Errorf("the demo Secret's value is in the audit log (read error: %v)", err)
		}
	})

	// Shutdown: Run returns nil and no process of the environment is left.
	if err := shutdown(); err != nil {
		t.Fatalf("Run returned %v after cancellation, want nil", err)
	}
	for _, p := range info.Processes {
		// The pid is also the process-group id: ESRCH means neither the process nor
		// anything it spawned is left.
		if err := syscall.Kill(-p.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (process group %d) still exists after shutdown: kill 0 = %v", p.Name, p.PID, err)
		}
	}
}

// startEnvironment runs the environment of o until the test ends and returns it once
// ready, with a function that stops it and returns Run's error.
func startEnvironment(t *testing.T, o *options) (readyInfo, func() error) {
	t.Helper()
	ready := make(chan readyInfo, 1)
	o.onReady = func(info readyInfo) { ready <- info }
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	// Not t.Context() directly: the test cancels it itself to check the shutdown, and
	// the cleanup covers a test that fails half way.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	var runErr error
	stopped := false
	shutdown := func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() { _ = shutdown() })

	select {
	case info := <-ready:
		return info, shutdown
	case err := <-done:
		stopped = true
		t.Fatalf("Run returned before the environment was ready: %v", err)
	case <-time.After(o.StartTimeout + time.Minute):
		t.Fatal("the environment did not become ready")
	}
	panic("unreachable")
}

// keyedCatalog is a model catalog whose default model takes its API key from the
// Secret llm-keys (key demo) of the manager's namespace, as docs/dev.md shows.
func keyedCatalog(baseURL string) string {
	return `defaultModel: keyed
defaultProfile: operate
models:
- name: keyed
  provider: openai
  model: demo
  baseURL: ` + baseURL + `
  apiKeySecretRef: {name: llm-keys, key: demo}
profiles:
- name: operate
  modes: [ReadOnly, Propose, Auto]
`
}
