package main

import (
	"bytes"
	"context"
	"errors"
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
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	// checkoutPrompt is what alice asks; the demo model answers with team-a's pods.
	checkoutPrompt = "Why is checkout not running?"
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
			return r.query(ctx, "why-checkout")
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
				return r.query(ctx, "webhook-mode")
			}},
			step{"helm upgrade to the next chart version keeps the manager's webhook CA; a query is still stamped", r.upgradeWebhookMode},
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
	return r.installChart(ctx, filepath.Join(r.o.RepoRoot, "charts", "kubeask"), verb, extra...)
}

// nextChartVersion is the version of the chart copy nextChart makes.
const nextChartVersion = "99.0.0-e2e"

// nextChart copies charts/kubeask into the state dir as the chart of a next release
// (version nextChartVersion): upgrading to it changes the helm.sh/chart label of every
// object, as a real upgrade does, so Helm patches the Lease and the webhook Secret the
// manager writes into, and its three-way merge must keep what the manager wrote.
func (r *runner) nextChart() (string, error) {
	dir := filepath.Join(r.state, "next-chart", "kubeask")
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(r.o.RepoRoot, "charts", "kubeask"))); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "Chart.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var out []string
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "version:") {
			line, found = "version: "+nextChartVersion, true
		}
		out = append(out, line)
	}
	if !found {
		return "", fmt.Errorf("%s has no version line", path)
	}
	return dir, os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o600)
}

// installChart is install with the chart in dir.
func (r *runner) installChart(ctx context.Context, dir, verb string, extra ...string) error {
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
	args := []string{verb, release, dir,
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
func (r *runner) query(ctx context.Context, name string) error {
	c, err := r.createQuery(ctx, name, checkoutPrompt)
	if err != nil {
		return err
	}
	return r.waitAnswer(ctx, c, name, 3*time.Minute)
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
	if err := r.query(ctx, "after-failover"); err != nil {
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
	c, err := r.createQuery(ctx, "during-upgrade", slowPrompt+" "+checkoutPrompt)
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
	leaseBefore, err := r.admin.CoordinationV1().Leases(releaseNamespace).Get(ctx, leaseName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	next, err := r.nextChart()
	if err != nil {
		return err
	}
	logf("   query running; helm upgrade to chart %s", nextChartVersion)
	if err := r.installChart(ctx, next, "upgrade", "--reuse-values", "--set-string=podAnnotations.kubeask-e2e/upgraded="+strconv.FormatInt(time.Now().Unix(), 10)); err != nil {
		return err
	}
	if err := r.checkLeaseKept(ctx, leaseBefore); err != nil {
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

// checkLeaseKept checks the leader-election Lease after an upgrade to the next chart
// (every replica replaced): Helm patched its labels, and the election went on in it, a
// new replica holding it with one transition more than before.
func (r *runner) checkLeaseKept(ctx context.Context, before *coordinationv1.Lease) error {
	transitions := func(l *coordinationv1.Lease) int32 {
		if l.Spec.LeaseTransitions == nil {
			return 0
		}
		return *l.Spec.LeaseTransitions
	}
	return r.waitFor(ctx, "the Lease upgraded by helm, its record kept by the managers", func() error {
		l, err := r.admin.CoordinationV1().Leases(releaseNamespace).Get(ctx, leaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := l.Labels["helm.sh/chart"]; got != "kubeask-"+nextChartVersion {
			return fmt.Errorf("the Lease's label helm.sh/chart=%q, want the next chart's", got)
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
			return errors.New("the Lease has no holder")
		}
		if transitions(l) <= transitions(before) {
			return fmt.Errorf("the Lease counts %d transitions, want more than the %d before the upgrade", transitions(l), transitions(before))
		}
		logf("   Lease %s: holder %s, %d transitions (%d before), labelled by chart %s", leaseName, *l.Spec.HolderIdentity, transitions(l), transitions(before), nextChartVersion)
		return nil
	})
}

// upgradeWebhookMode upgrades the webhook-mode release to the next chart version with a
// new pod template: the chart's webhook Secret and webhook configurations get new
// labels, and Helm's three-way merge must keep the CA, its key and the serving
// certificate the manager wrote, and the CA bundle it injected; the new pods serve with
// them, and a query as alice is still stamped by the webhook.
func (r *runner) upgradeWebhookMode(ctx context.Context) error {
	secretName := release + "-webhook-tls"
	before, err := r.admin.CoreV1().Secrets(releaseNamespace).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, k := range []string{"ca.crt", "ca.key", "tls.crt", "tls.key"} {
		if len(before.Data[k]) == 0 {
			return fmt.Errorf("the manager has not filled the chart's Secret %s: no %s", secretName, k)
		}
	}
	bundle := func() ([]byte, error) {
		m, err := r.admin.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, release, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return m.Webhooks[0].ClientConfig.CABundle, nil
	}
	bundleBefore, err := bundle()
	if err != nil {
		return err
	}
	if !bytes.Contains(bundleBefore, before.Data["ca.crt"]) {
		return errors.New("the MutatingWebhookConfiguration's caBundle does not hold the manager's CA")
	}
	next, err := r.nextChart()
	if err != nil {
		return err
	}
	if err := r.installChart(ctx, next, "upgrade", "--reuse-values", "--set-string=podAnnotations.kubeask-e2e/upgraded="+strconv.FormatInt(time.Now().Unix(), 10)); err != nil {
		return err
	}
	after, err := r.admin.CoreV1().Secrets(releaseNamespace).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if got := after.Labels["helm.sh/chart"]; got != "kubeask-"+nextChartVersion {
		return fmt.Errorf("the label helm.sh/chart of Secret %s is %q: helm did not upgrade it", secretName, got)
	}
	for k, v := range before.Data {
		if !bytes.Equal(after.Data[k], v) {
			return fmt.Errorf("helm upgrade changed %s of Secret %s", k, secretName)
		}
	}
	bundleAfter, err := bundle()
	if err != nil {
		return err
	}
	if !bytes.Equal(bundleAfter, bundleBefore) {
		return errors.New("helm upgrade changed the caBundle the manager injected")
	}
	logf("   Secret %s relabelled by chart %s, its %d keys unchanged; caBundle unchanged", secretName, nextChartVersion, len(after.Data))
	return r.query(ctx, "after-webhook-upgrade")
}

// uninstall runs `helm uninstall` and checks that nothing of kubeask is left: no object
// in the release namespace (except what Kubernetes itself puts in each namespace), and
// no object anywhere, namespaced or cluster-scoped, that is labelled or annotated as the
// release's or as part of kubeask, or whose name says kubeask. The CRDs stay, as Helm
// does for a chart's crds/ directory (deleting them would delete every user's queries);
// so do Events, which Kubernetes expires on its own (the leader election records some
// on the Lease). The Lease and the webhook Secret the manager writes into are the
// chart's, so Helm deletes them, and the manager may not create them again.
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
		gvr("", "persistentvolumeclaims"), gvr("discovery.k8s.io", "endpointslices"),
		gvr("apps", "deployments"), gvr("apps", "replicasets"), gvr("apps", "statefulsets"), gvr("apps", "daemonsets"),
		gvr("batch", "jobs"), gvr("batch", "cronjobs"),
		gvr("rbac.authorization.k8s.io", "roles"), gvr("rbac.authorization.k8s.io", "rolebindings"),
		gvr("coordination.k8s.io", "leases"), gvr("policy", "poddisruptionbudgets"),
		gvr("networking.k8s.io", "networkpolicies"), gvr("autoscaling", "horizontalpodautoscalers"),
	}
	clusterScoped := []schema.GroupVersionResource{
		gvr("", "namespaces"), gvr("", "persistentvolumes"),
		gvr("rbac.authorization.k8s.io", "clusterroles"), gvr("rbac.authorization.k8s.io", "clusterrolebindings"),
		gvr("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
		gvr("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
		gvr("admissionregistration.k8s.io", "validatingadmissionpolicies"),
		gvr("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
		gvr("admissionregistration.k8s.io", "mutatingadmissionpolicies"),
		gvr("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"),
		gvr("apiextensions.k8s.io", "customresourcedefinitions"),
		gvr("scheduling.k8s.io", "priorityclasses"),
	}
	// What stays by design: the namespace (helm install --create-namespace made it, and
	// Helm never deletes it), the CRDs, and what Kubernetes puts into every namespace.
	kept := map[string]bool{
		"namespaces/" + releaseNamespace:                             true,
		"customresourcedefinitions/agentqueries.agents.kubeask.dev":  true,
		"customresourcedefinitions/agentsessions.agents.kubeask.dev": true,
		"customresourcedefinitions/agenttriggers.agents.kubeask.dev": true,
		"configmaps/" + releaseNamespace + "/kube-root-ca.crt":       true,
		"serviceaccounts/" + releaseNamespace + "/default":           true,
	}
	kubeasks := func(o unstructured.Unstructured) bool {
		l, a := o.GetLabels(), o.GetAnnotations()
		// The run's own fixtures: hack/dev/demo.yaml's RBAC (labelled kubeask.dev/demo)
		// and the node kubeask-e2e-node, whose Lease is in kube-node-lease.
		if l["kubeask.dev/demo"] == "true" || strings.HasPrefix(o.GetName(), "kubeask-e2e") {
			return false
		}
		return l["app.kubernetes.io/instance"] == release || a["meta.helm.sh/release-name"] == release ||
			l["app.kubernetes.io/part-of"] == "kubeask" || l["app.kubernetes.io/name"] == "kubeask" ||
			strings.Contains(o.GetName(), "kubeask")
	}
	return r.waitForWithin(ctx, 2*time.Minute, "nothing of kubeask left", func() error {
		var left []string
		for _, res := range namespaced {
			l, err := dyn.Resource(res).List(ctx, metav1.ListOptions{}) // every namespace
			if err != nil {
				return err
			}
			for _, o := range l.Items {
				key := res.Resource + "/" + o.GetNamespace() + "/" + o.GetName()
				if !kept[key] && (o.GetNamespace() == releaseNamespace || kubeasks(o)) {
					left = append(left, res.Resource+" "+o.GetNamespace()+"/"+o.GetName())
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
				if !kept[res.Resource+"/"+o.GetName()] && kubeasks(o) {
					left = append(left, res.Resource+" "+o.GetName())
				}
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("left behind: %s", strings.Join(left, ", "))
		}
		logf("   nothing of kubeask left but the namespace %s and the CRDs", releaseNamespace)
		return nil
	})
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
