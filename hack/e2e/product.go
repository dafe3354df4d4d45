package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/testcluster"
)

const (
	release          = "kubeask"
	releaseNamespace = "kubeask-system"
	managerImage     = "ghcr.io/kubeask/kubeask-manager"
	leaseName        = "kubeask-manager.agents.kubeask.dev"
	mcpPort          = 8090
)

type step = struct {
	name string
	do   func(context.Context) error
}

// productSteps are the checks of the installed product, run after the node works.
func (r *runner) productSteps() []step {
	steps := []step{
		{"kubeask-manager image imported from " + r.o.Image, r.managerImage},
		{"demo model (OpenAI protocol) on the node address", func(context.Context) error {
			var err error
			r.modelURL, err = r.startDemoModel()
			return err
		}},
		{"helm install (policy admission mode, 2 replicas, MCP on), manager pods Ready", func(ctx context.Context) error {
			return r.install(ctx, "install", "--set=admission.mode=policy")
		}},
		{"a query as alice, answered by the demo model through the manager", func(ctx context.Context) error {
			return r.query(ctx, "why-checkout", "Why is checkout not running?", 3*time.Minute)
		}},
		{"MCP endpoint through a port-forward, as alice", r.mcpAsAlice},
		{"leader election: the leader's pod is deleted, the other replica takes over", r.leaderFailover},
		{"helm upgrade while a query runs; the query still succeeds", r.upgradeDuringQuery},
		{"helm uninstall leaves nothing behind", r.uninstall},
	}
	if r.o.Webhook {
		steps = append(steps,
			step{"second install in admission webhook mode, manager Ready", func(ctx context.Context) error {
				return r.install(ctx, "install", "--set=admission.mode=webhook")
			}},
			step{"a query as alice, requester stamped by the webhook", func(ctx context.Context) error {
				return r.query(ctx, "webhook-mode", "Why is checkout not running?", 3*time.Minute)
			}},
			step{"helm uninstall of the webhook install leaves nothing behind", r.uninstall},
		)
	}
	return steps
}

// managerImage imports the image `make image` built. Another build may still be
// writing it, so the driver waits for it (bounded by --image-wait).
func (r *runner) managerImage(ctx context.Context) error {
	want := managerImage + ":" + r.chartAppVersion()
	if r.o.ManagerBinary != "" {
		logf("   --manager-binary: a throwaway image holding only %s, not the release image", r.o.ManagerBinary)
		r.o.Image = filepath.Join(r.state, "throwaway-manager.oci.tar")
		if err := writeSingleFileImage(r.o.Image, want, r.o.ManagerBinary, "kubeask-manager"); err != nil {
			return err
		}
	}
	if err := r.waitForWithin(ctx, r.o.ImageWait+time.Second, "image archive "+r.o.Image, func() error {
		_, err := os.Stat(r.o.Image)
		return err
	}); err != nil {
		return fmt.Errorf("%w (run `make image` first)", err)
	}
	if err := r.importImage(r.o.Image); err != nil {
		return err
	}
	out, err := r.ctr("images", "ls", "-q")
	if err != nil {
		return err
	}
	if !strings.Contains(out, want+"\n") {
		return fmt.Errorf("the archive did not give the image %s the chart runs; containerd has:\n%s", want, out)
	}
	logf("   %s in containerd", want)
	return nil
}

// chartAppVersion is the chart's appVersion, the image tag it runs by default.
func (r *runner) chartAppVersion() string {
	b, err := os.ReadFile(filepath.Join(r.o.RepoRoot, "charts", "kubeask", "Chart.yaml"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "appVersion:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// helm runs bin/helm against the cluster as admin, with its caches in the state dir.
func (r *runner) helm(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, r.o.Helm, args...)
	home := filepath.Join(r.state, "helm")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+r.c.kubeconfigs["admin"],
		"HELM_CONFIG_HOME="+home+"/config", "HELM_CACHE_HOME="+home+"/cache", "HELM_DATA_HOME="+home+"/data")
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(out)
		if len(msg) > 2000 { // helm quotes whole objects in some errors
			msg = msg[:2000] + "..."
		}
		return fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, msg)
	}
	return nil
}

// install runs `helm install` or `helm upgrade` of charts/kubeask with the demo model
// as the catalog, the image never pulled, and waits for every replica to be Ready.
func (r *runner) install(ctx context.Context, verb string, extra ...string) error {
	values := filepath.Join(r.state, "values.yaml")
	if err := os.WriteFile(values, fmt.Appendf(nil, `image:
  pullPolicy: Never
mcp:
  enabled: true
config:
  defaultModel: demo
  models:
  - name: demo
    provider: openai
    model: demo
    baseURL: %s
`, r.modelURL), 0o600); err != nil {
		return err
	}
	args := []string{verb, release, filepath.Join(r.o.RepoRoot, "charts", "kubeask"),
		"--namespace=" + releaseNamespace, "--values=" + values, "--timeout=5m"}
	if verb == "install" {
		args = append(args, "--create-namespace")
	}
	if err := r.helm(ctx, append(args, extra...)...); err != nil {
		return err
	}
	return r.waitManagerReady(ctx)
}

// waitManagerReady waits for the Deployment's rollout to finish with every replica
// Ready, saying what the pods wait for when it does not.
func (r *runner) waitManagerReady(ctx context.Context) error {
	return r.waitForWithin(ctx, 4*time.Minute, "manager Deployment rolled out and Ready", func() error {
		d, err := r.admin.AppsV1().Deployments(releaseNamespace).Get(ctx, release, metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		if d.Generation == s.ObservedGeneration && s.UpdatedReplicas == want && s.ReadyReplicas == want && s.Replicas == want {
			logf("   %d/%d manager replicas Ready", s.ReadyReplicas, want)
			return nil
		}
		return fmt.Errorf("%d/%d updated, %d ready, %d total;%s", s.UpdatedReplicas, want, s.ReadyReplicas, s.Replicas, r.managerPodProblems(ctx))
	})
}

func (r *runner) managerPodProblems(ctx context.Context) string {
	pods, err := r.admin.CoreV1().Pods(releaseNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for i := range pods.Items {
		p := &pods.Items[i]
		fmt.Fprintf(&b, " pod %s %s%s", p.Name, p.Status.Phase, podProblem(p))
	}
	return b.String()
}

// alice returns a client that authenticates as alice, with the kubeask types.
func (r *runner) alice() (client.Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", r.c.kubeconfigs["alice"])
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: testcluster.NewScheme()})
}

// query creates an AgentQuery in team-a as alice and waits for the answer: the demo
// model lists pods as alice, so a correct answer shows the manager impersonated her.
func (r *runner) query(ctx context.Context, name, prompt string, limit time.Duration) error {
	c, err := r.createQuery(ctx, name, prompt)
	if err != nil {
		return err
	}
	return r.waitAnswer(ctx, c, name, limit)
}

func (r *runner) createQuery(ctx context.Context, name, prompt string) (client.Client, error) {
	c, err := r.alice()
	if err != nil {
		return nil, err
	}
	q := &agentsv1alpha1.AgentQuery{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
		Spec:       agentsv1alpha1.AgentQuerySpec{Prompt: prompt},
	}
	if err := c.Create(ctx, q); err != nil {
		return nil, fmt.Errorf("creating AgentQuery team-a/%s as alice: %w", name, err)
	}
	if q.Spec.Requester == nil || q.Spec.Requester.Username != "alice" {
		return nil, fmt.Errorf("admission did not stamp alice as the requester: %+v", q.Spec.Requester)
	}
	return c, nil
}

func (r *runner) waitAnswer(ctx context.Context, c client.Client, name string, limit time.Duration) error {
	var q agentsv1alpha1.AgentQuery
	if err := r.waitForWithin(ctx, limit, "AgentQuery team-a/"+name+" finished", func() error {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, &q); err != nil {
			return err
		}
		if !q.Status.Phase.Finished() {
			return fmt.Errorf("phase %q", q.Status.Phase)
		}
		return nil
	}); err != nil {
		return err
	}
	if q.Status.Phase != agentsv1alpha1.QuerySucceeded {
		return fmt.Errorf("query %s ended %s: %s; conditions %+v", name, q.Status.Phase, q.Status.Summary, q.Status.Conditions)
	}
	// The pod listing, made as alice, names the crash-looping pod of team-a.
	if !strings.Contains(q.Status.Answer, "checkout") {
		return fmt.Errorf("the answer does not show team-a's pods:\n%s", q.Status.Answer)
	}
	logf("   query %s Succeeded as %s with %d step(s); answer starts %q", name, q.Spec.Requester.Username, len(q.Status.Steps), firstLine(q.Status.Answer))
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// mcpAsAlice reaches the MCP endpoint of a manager pod through `kubectl port-forward`
// (API server, kubelet, containerd, the pod's network) and calls a tool with alice's
// bearer token: allowed in team-a, forbidden in team-b, as her RBAC says.
func (r *runner) mcpAsAlice(ctx context.Context) error {
	local, err := freePort()
	if err != nil {
		return err
	}
	pf, err := r.sup.start("port-forward", filepath.Join(r.o.K8sBin, "kubectl"), []string{
		"--kubeconfig=" + r.c.kubeconfigs["admin"], "--namespace=" + releaseNamespace,
		"port-forward", "deployment/" + release, fmt.Sprintf("%d:%d", local, mcpPort),
	}, nil)
	if err != nil {
		return err
	}
	defer pf.stop(5 * time.Second)
	endpoint := fmt.Sprintf("http://127.0.0.1:%d/mcp", local)
	if err := r.waitFor(ctx, "port-forward to the MCP port", func() error {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", local), time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	}); err != nil {
		return err
	}
	hc := &http.Client{Transport: bearer{token: r.c.users["alice"].token, base: http.DefaultTransport}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "kubeask-e2e", Version: "v0"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc}, nil)
	if err != nil {
		return fmt.Errorf("connecting to %s as alice: %w", endpoint, err)
	}
	defer func() { _ = cs.Close() }()
	call := func(ns string) (string, bool, error) {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "resources_list", Arguments: map[string]any{"resource": "pods", "namespace": ns}})
		if err != nil {
			return "", false, err
		}
		var b strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		return b.String(), res.IsError, nil
	}
	text, isErr, err := call("team-a")
	if err != nil {
		return err
	}
	if isErr || !strings.Contains(text, "checkout") {
		return fmt.Errorf("resources_list pods in team-a as alice: error=%v %s", isErr, text)
	}
	logf("   MCP resources_list pods team-a as alice: lists checkout and web")
	text, isErr, err = call("team-b")
	if err != nil {
		return err
	}
	if !isErr || !strings.Contains(strings.ToLower(text), "forbidden") {
		return fmt.Errorf("resources_list pods in team-b as alice should be forbidden, got error=%v %s", isErr, text)
	}
	logf("   MCP resources_list pods team-b as alice: forbidden, as her RBAC says")
	return nil
}

type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(req)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// leaderPod returns the pod holding the leader Lease (controller-runtime's identity is
// <hostname>_<uuid>, and a pod's hostname is its name).
func (r *runner) leaderPod(ctx context.Context) (string, error) {
	l, err := r.admin.CoordinationV1().Leases(releaseNamespace).Get(ctx, leaseName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		return "", fmt.Errorf("lease %s has no holder", leaseName)
	}
	pod, _, _ := strings.Cut(*l.Spec.HolderIdentity, "_")
	return pod, nil
}

// leaderFailover deletes the leader's pod and checks that the standby replica takes
// the Lease and answers a new query.
func (r *runner) leaderFailover(ctx context.Context) error {
	var leader string
	if err := r.waitFor(ctx, "a leader", func() error {
		var err error
		leader, err = r.leaderPod(ctx)
		return err
	}); err != nil {
		return err
	}
	pods, err := r.admin.CoreV1().Pods(releaseNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var standby string
	for _, p := range pods.Items {
		if p.Name != leader && p.DeletionTimestamp == nil {
			standby = p.Name
		}
	}
	if standby == "" {
		return fmt.Errorf("no standby replica next to leader %s", leader)
	}
	// The node is cordoned first: the leader releases the Lease when it stops, and a
	// replacement pod started in a second would race the standby for it (and won, in
	// practice: the standby retries every two seconds). With no room for a replacement,
	// only the standby can take over, which is the failover under test.
	if err := r.setUnschedulable(ctx, true); err != nil {
		return err
	}
	logf("   leader %s, standby %s; node cordoned, deleting the leader's pod", leader, standby)
	r.saveLeaderLogs(ctx, leader, standby)
	if err := r.admin.CoreV1().Pods(releaseNamespace).Delete(ctx, leader, metav1.DeleteOptions{}); err != nil {
		return err
	}
	began := time.Now()
	if err := r.waitFor(ctx, "the standby to take the lease", func() error {
		now, err := r.leaderPod(ctx)
		if err != nil {
			return err
		}
		if now != standby {
			return fmt.Errorf("leader is %s", now)
		}
		return nil
	}); err != nil {
		return err
	}
	logf("   %s took the lease after %s", standby, time.Since(began).Round(100*time.Millisecond))
	if err := r.query(ctx, "after-failover", "Why is checkout not running?", 3*time.Minute); err != nil {
		return err
	}
	if err := r.setUnschedulable(ctx, false); err != nil {
		return err
	}
	return r.waitManagerReady(ctx)
}

// setUnschedulable cordons or uncordons the node, as `kubectl cordon` does.
func (r *runner) setUnschedulable(ctx context.Context, on bool) error {
	patch := fmt.Appendf(nil, `{"spec":{"unschedulable":%t}}`, on)
	_, err := r.admin.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// upgradeDuringQuery starts a query whose model answers slowly, runs `helm upgrade`
// (a pod template change, so every replica is replaced) while it runs, and checks that
// the query still ends Succeeded, answered by the new leader.
func (r *runner) upgradeDuringQuery(ctx context.Context) error {
	c, err := r.createQuery(ctx, "during-upgrade", slowPrompt+" Why is checkout not running?")
	if err != nil {
		return err
	}
	if err := r.waitFor(ctx, "the slow query to run", func() error {
		var q agentsv1alpha1.AgentQuery
		if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "during-upgrade"}, &q); err != nil {
			return err
		}
		if q.Status.Phase != agentsv1alpha1.QueryRunning {
			return fmt.Errorf("phase %q", q.Status.Phase)
		}
		return nil
	}); err != nil {
		return err
	}
	before, err := r.admin.AppsV1().Deployments(releaseNamespace).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		return err
	}
	logf("   query running; helm upgrade")
	if err := r.install(ctx, "upgrade", "--reuse-values", "--set-string=podAnnotations.kubeask-e2e/upgraded="+strconv.FormatInt(time.Now().Unix(), 10)); err != nil {
		return err
	}
	after, err := r.admin.AppsV1().Deployments(releaseNamespace).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if after.Generation == before.Generation {
		return fmt.Errorf("helm upgrade did not change the Deployment (generation %d)", after.Generation)
	}
	if err := r.waitAnswer(ctx, c, "during-upgrade", 4*time.Minute); err != nil {
		return err
	}
	// Two requests is one uninterrupted run (tool call, then answer); more means the
	// upgrade cut a request off and the next leader asked again.
	n := 0
	for _, req := range r.model.Requests() {
		for _, m := range req.Messages {
			if m.Role == "user" && strings.Contains(m.Text(), slowPrompt) {
				n++
				break
			}
		}
	}
	logf("   the model was asked %d time(s) for this query", n)
	return nil
}

// uninstall runs `helm uninstall` and checks that nothing of the release is left:
// every object in the release namespace (except what Kubernetes itself puts in each
// namespace), and every cluster-scoped object labelled or annotated as the release's.
// The CRDs stay, as Helm does for a chart's crds/ directory: deleting them would delete
// every user's queries. Objects the manager writes at run time that no template owns
// are reported by name in knownLeftovers, so that a new one fails the run.
func (r *runner) uninstall(ctx context.Context) error {
	if err := r.helm(ctx, "uninstall", release, "--namespace="+releaseNamespace, "--wait", "--timeout=3m"); err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(r.adminCfg)
	if err != nil {
		return err
	}
	gvr := func(group, resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: group, Version: "v1", Resource: resource}
	}
	namespaced := []schema.GroupVersionResource{
		gvr("", "pods"), gvr("", "services"), gvr("", "configmaps"), gvr("", "secrets"), gvr("", "serviceaccounts"),
		gvr("apps", "deployments"), gvr("apps", "replicasets"),
		gvr("rbac.authorization.k8s.io", "roles"), gvr("rbac.authorization.k8s.io", "rolebindings"),
		gvr("coordination.k8s.io", "leases"), gvr("policy", "poddisruptionbudgets"),
	}
	clusterScoped := []schema.GroupVersionResource{
		gvr("rbac.authorization.k8s.io", "clusterroles"), gvr("rbac.authorization.k8s.io", "clusterrolebindings"),
		gvr("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
		gvr("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
		gvr("admissionregistration.k8s.io", "validatingadmissionpolicies"),
		gvr("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
		gvr("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
		gvr("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"),
	}
	// What Kubernetes puts into every namespace.
	builtin := map[string]bool{"configmaps/kube-root-ca.crt": true, "serviceaccounts/default": true}
	// Objects the manager creates at run time and no template owns, so helm does not
	// delete them. Each is printed when found: they are defects of the chart (see
	// docs/e2e.md), listed here so that the run still catches any other leftover.
	knownLeftovers := map[string]string{
		"leases/" + leaseName:                 "the leader-election Lease, created by the manager (released, not deleted, at shutdown)",
		"secrets/" + release + "-webhook-tls": "the webhook CA and serving certificate, created by the manager in webhook mode",
	}
	var known []string
	err = r.waitForWithin(ctx, 2*time.Minute, "nothing of the release left", func() error {
		var left []string
		known = known[:0]
		for _, res := range namespaced {
			l, err := dyn.Resource(res).Namespace(releaseNamespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, o := range l.Items {
				key := res.Resource + "/" + o.GetName()
				switch {
				case builtin[key]:
				case knownLeftovers[key] != "":
					known = append(known, key+": "+knownLeftovers[key])
				default:
					left = append(left, res.Resource+" "+releaseNamespace+"/"+o.GetName())
				}
			}
		}
		for _, res := range clusterScoped {
			l, err := dyn.Resource(res).List(ctx, metav1.ListOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) {
					continue // an API this server does not serve
				}
				return err
			}
			for _, o := range l.Items {
				if o.GetLabels()["app.kubernetes.io/instance"] == release || o.GetAnnotations()["meta.helm.sh/release-name"] == release {
					left = append(left, res.Resource+" "+o.GetName())
				}
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("left behind: %s", strings.Join(left, ", "))
		}
		return nil
	})
	for _, k := range known {
		logf("   KNOWN LEFTOVER %s", k)
	}
	return err
}

// saveLeaderLogs keeps the logs of the two replicas at the moment of the failover in
// the logs directory: the deleted pod's logs disappear with it.
func (r *runner) saveLeaderLogs(ctx context.Context, pods ...string) {
	for _, p := range pods {
		b, err := r.admin.CoreV1().Pods(releaseNamespace).GetLogs(p, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err == nil {
			_ = os.WriteFile(filepath.Join(r.state, "logs", "before-failover-"+p+".log"), b, 0o600)
		}
	}
}
