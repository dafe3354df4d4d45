package chart_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kubeask/kubeask/internal/certs"
)

const (
	lifecycleRelease   = "lifecycle"
	lifecycleNamespace = "chart-lifecycle"
	lifecycleFullname  = "lifecycle-kubeask"
	leaseName          = "kubeask-manager.agents.kubeask.dev"
)

// TestReleaseOwnsWhatTheManagerWrites installs the chart (webhook mode) with the real
// helm, runs leader election the way the manager does (controller-runtime, as the
// chart's ServiceAccount with its RBAC) and the manager's certificate rotator on the
// chart's objects, upgrades to a new chart version, and uninstalls: the Lease and the
// webhook Secret belong to the release, keep what the manager writes across the
// upgrade, cannot be created again by a running replica, and are gone after uninstall.
func TestReleaseOwnsWhatTheManagerWrites(t *testing.T) {
	ctx := t.Context()
	helm := newHelmRunner(t)
	admin := adminClient(t)
	chartV1 := chartDir(t)
	chartV2 := chartWithVersion(t, "99.0.0")

	// The release namespace's webhook configurations would send every AgentQuery write of
	// the shared test cluster to a Service without pods: remove them whatever happens.
	t.Cleanup(func() {
		_ = helm.run(context.WithoutCancel(ctx), "uninstall", lifecycleRelease, "--namespace", lifecycleNamespace, "--ignore-not-found")
	})
	helm.must(t, "install", lifecycleRelease, chartV1, "--namespace", lifecycleNamespace, "--create-namespace",
		"--skip-crds", "--set", "admission.mode=webhook")

	lease := &coordinationv1.Lease{}
	leaseKey := client.ObjectKey{Namespace: lifecycleNamespace, Name: leaseName}
	if err := admin.Get(ctx, leaseKey, lease); err != nil {
		t.Fatalf("the chart did not create the leader-election Lease: %v", err)
	}
	if lease.Spec.HolderIdentity != nil || lease.Annotations["meta.helm.sh/release-name"] != lifecycleRelease {
		t.Fatalf("Lease after install: holder %v, annotations %v; want no holder, owned by release %s", lease.Spec.HolderIdentity, lease.Annotations, lifecycleRelease)
	}
	secret := &corev1.Secret{}
	secretKey := client.ObjectKey{Namespace: lifecycleNamespace, Name: lifecycleFullname + "-webhook-tls"}
	if err := admin.Get(ctx, secretKey, secret); err != nil {
		t.Fatalf("the chart did not create the webhook Secret: %v", err)
	}
	if len(secret.Data) != 0 || secret.Annotations["meta.helm.sh/release-name"] != lifecycleRelease {
		t.Fatalf("Secret after install: %d keys, annotations %v; want empty, owned by release %s", len(secret.Data), secret.Annotations, lifecycleRelease)
	}

	// The manager's identity: the chart's ServiceAccount, with the chart's Role.
	sa := serviceAccountConfig(t, lifecycleNamespace, lifecycleFullname)
	saClient := newClient(t, sa)
	if err := eventually(ctx, func(ctx context.Context) error {
		return saClient.Get(ctx, leaseKey, &coordinationv1.Lease{})
	}); err != nil {
		t.Fatalf("the ServiceAccount cannot read its Lease: %v", err)
	}

	// Two replicas elect a leader on the Lease the chart made.
	first := startElector(t, sa)
	waitElected(t, first, "the first replica")
	second := startElector(t, sa)
	holder := leaseHolder(t, admin, leaseKey)
	if !strings.Contains(holder, "_") {
		t.Fatalf("Lease holder %q, want controller-runtime's <host>_<uuid> identity", holder)
	}

	// The rotator fills the Secret (get and update: the chart's Role has no create).
	rotator := &certs.Rotator{
		Reader: saClient, Writer: saClient,
		Namespace: lifecycleNamespace, SecretName: secretKey.Name,
		Hosts:   []string{lifecycleFullname + "-webhook." + lifecycleNamespace + ".svc"},
		CertDir: t.TempDir(),
	}
	if err := rotator.PrepareFiles(ctx); err != nil {
		t.Fatalf("the rotator could not fill the chart's Secret: %v", err)
	}
	if err := admin.Get(ctx, secretKey, secret); err != nil {
		t.Fatal(err)
	}
	filled := secret.Data
	for _, k := range []string{"ca.crt", "ca.key", "tls.crt", "tls.key"} {
		if len(filled[k]) == 0 {
			t.Fatalf("the Secret lacks %s after the rotator ran: keys %v", k, keys(filled))
		}
	}

	// A new chart version changes the labels of every object: Helm patches the Lease and
	// the Secret, and its three-way merge must keep the holder and the certificates.
	upgradeStarted := time.Now()
	helm.must(t, "upgrade", lifecycleRelease, chartV2, "--namespace", lifecycleNamespace, "--skip-crds", "--reuse-values")
	if err := admin.Get(ctx, secretKey, secret); err != nil {
		t.Fatal(err)
	}
	if secret.Labels["helm.sh/chart"] != "kubeask-99.0.0" {
		t.Errorf("Secret labels after the upgrade: %v; want the new chart's", secret.Labels)
	}
	for k, v := range filled {
		if !bytes.Equal(secret.Data[k], v) {
			t.Errorf("helm upgrade changed the Secret's %s (keys now %v)", k, keys(secret.Data))
		}
	}
	if err := eventually(ctx, func(ctx context.Context) error {
		l := &coordinationv1.Lease{}
		if err := admin.Get(ctx, leaseKey, l); err != nil {
			return err
		}
		switch {
		case l.Labels["helm.sh/chart"] != "kubeask-99.0.0":
			return errors.New("the Lease's labels were not upgraded: " + l.Labels["helm.sh/chart"])
		case l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != holder:
			return errors.New("the Lease's holder after the upgrade is not " + holder)
		case l.Spec.RenewTime == nil || !l.Spec.RenewTime.After(upgradeStarted):
			return errors.New("the leader has not renewed the Lease since the upgrade")
		}
		return nil
	}); err != nil {
		t.Errorf("after helm upgrade: %v", err)
	}
	if err := first.err(); err != nil {
		t.Fatalf("the leader stopped during the upgrade: %v", err)
	}

	// What helm uninstall does first: the Lease goes while the replicas still run. The
	// leader loses it, and neither replica may create it again (no create in the Role).
	if err := admin.Delete(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: lifecycleNamespace, Name: leaseName}}); err != nil {
		t.Fatal(err)
	}
	// Long enough for the standby's retries (every 200ms) and the leader's renew deadline.
	time.Sleep(3 * time.Second)
	if err := admin.Get(ctx, leaseKey, &coordinationv1.Lease{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a replica created the deleted Lease again (get: %v)", err)
	}
	if err := first.err(); err == nil || !strings.Contains(err.Error(), "leader election lost") {
		t.Errorf("the leader whose Lease was deleted: %v, want it stopped with leader election lost", err)
	}
	// The same for the Secret: the rotator may not create it.
	if err := admin.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: lifecycleNamespace, Name: secretKey.Name}}); err != nil {
		t.Fatal(err)
	}
	if err := rotator.PrepareFiles(ctx); !apierrors.IsForbidden(err) {
		t.Errorf("the rotator without its Secret: %v, want forbidden", err)
	}
	if err := admin.Get(ctx, secretKey, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the rotator created the deleted Secret again (get: %v)", err)
	}

	// helm upgrade puts both back, empty; the standby takes the Lease and the rotator
	// fills the Secret again.
	helm.must(t, "upgrade", lifecycleRelease, chartV2, "--namespace", lifecycleNamespace, "--skip-crds", "--reuse-values")
	waitElected(t, second, "the standby, on the Lease helm upgrade recreated")
	if err := rotator.PrepareFiles(ctx); err != nil {
		t.Fatalf("the rotator on the Secret helm upgrade recreated: %v", err)
	}

	// Uninstall while the leader runs: nothing of the release is left.
	helm.must(t, "uninstall", lifecycleRelease, "--namespace", lifecycleNamespace, "--wait")
	time.Sleep(time.Second) // a few of the replica's retries
	if left := releaseLeftovers(t, lifecycleNamespace, lifecycleRelease); len(left) > 0 {
		t.Errorf("left after helm uninstall: %s", strings.Join(left, ", "))
	}
	second.stop()
}

// elector is a controller-runtime manager that only elects a leader, configured as
// internal/manager configures it, with short durations.
type elector struct {
	mgr    ctrl.Manager
	cancel context.CancelFunc
	done   chan error
}

func startElector(t *testing.T, cfg *rest.Config) *elector {
	t.Helper()
	leaseDuration, renewDeadline, retryPeriod := 2*time.Second, time.Second, 200*time.Millisecond
	out := t.Output()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: cluster.Scheme,
		// The expected refusals (no create) are logged as errors: one line each, without
		// the stack traces zap would add, so a failed test's output stays readable.
		Logger:                        funcr.New(func(prefix, args string) { fmt.Fprintln(out, prefix, args) }, funcr.Options{}),
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                true,
		LeaderElectionID:              leaseName,
		LeaderElectionNamespace:       lifecycleNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	e := &elector{mgr: mgr, cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- mgr.Start(ctx) }()
	t.Cleanup(e.stop)
	return e
}

// err is the manager's result once it stopped, nil while it runs.
func (e *elector) err() error {
	select {
	case err := <-e.done:
		e.done <- err // keep it for the next caller
		if err == nil {
			return errors.New("stopped")
		}
		return err
	default:
		return nil
	}
}

func (e *elector) stop() {
	e.cancel()
	select {
	case err := <-e.done:
		e.done <- err
	case <-time.After(10 * time.Second):
	}
}

func waitElected(t *testing.T, e *elector, who string) {
	t.Helper()
	select {
	case <-e.mgr.Elected():
	case err := <-e.done:
		t.Fatalf("%s stopped before it was elected: %v", who, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s was not elected within 30s", who)
	}
}

func leaseHolder(t *testing.T, c client.Client, key client.ObjectKey) string {
	t.Helper()
	l := &coordinationv1.Lease{}
	if err := c.Get(t.Context(), key, l); err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil {
		t.Fatal("the Lease has no holder although a replica was elected")
	}
	return *l.Spec.HolderIdentity
}

// releaseLeftovers lists every object in ns except what Kubernetes puts in each
// namespace, and every cluster-scoped object labelled or annotated as release's, as
// make e2e's uninstall check does.
func releaseLeftovers(t *testing.T, ns, release string) []string {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cluster.Admin)
	if err != nil {
		t.Fatal(err)
	}
	gvr := func(group, resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: group, Version: "v1", Resource: resource}
	}
	builtin := map[string]bool{"configmaps/kube-root-ca.crt": true, "serviceaccounts/default": true}
	var left []string
	for _, res := range []schema.GroupVersionResource{
		gvr("", "services"), gvr("", "configmaps"), gvr("", "secrets"), gvr("", "serviceaccounts"),
		gvr("apps", "deployments"), gvr("rbac.authorization.k8s.io", "roles"), gvr("rbac.authorization.k8s.io", "rolebindings"),
		gvr("coordination.k8s.io", "leases"), gvr("policy", "poddisruptionbudgets"),
	} {
		l, err := dyn.Resource(res).Namespace(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range l.Items {
			if !builtin[res.Resource+"/"+o.GetName()] {
				left = append(left, res.Resource+" "+ns+"/"+o.GetName())
			}
		}
	}
	for _, res := range []schema.GroupVersionResource{
		gvr("rbac.authorization.k8s.io", "clusterroles"), gvr("rbac.authorization.k8s.io", "clusterrolebindings"),
		gvr("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
		gvr("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
	} {
		l, err := dyn.Resource(res).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range l.Items {
			if o.GetLabels()["app.kubernetes.io/instance"] == release || o.GetAnnotations()["meta.helm.sh/release-name"] == release {
				left = append(left, res.Resource+" "+o.GetName())
			}
		}
	}
	return left
}

// helmRunner runs the real helm against the test cluster as cluster-admin, with its
// caches in a temporary directory.
type helmRunner struct {
	bin string
	env []string
}

func newHelmRunner(t *testing.T) *helmRunner {
	t.Helper()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cfg := cluster.Admin
	kc := clientcmdapi.NewConfig()
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin"}
	kc.CurrentContext = "test"
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	return &helmRunner{bin: helmBinary(t), env: append(os.Environ(), "KUBECONFIG="+kubeconfig,
		"HELM_CONFIG_HOME="+filepath.Join(dir, "config"), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"), "HELM_DATA_HOME="+filepath.Join(dir, "data"))}
}

func (h *helmRunner) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = h.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.New("helm " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out))
	}
	return nil
}

func (h *helmRunner) must(t *testing.T, args ...string) {
	t.Helper()
	if err := h.run(t.Context(), args...); err != nil {
		t.Fatal(err)
	}
}

// chartWithVersion copies the chart with another chart version, as the next release
// would be: every object's helm.sh/chart label changes.
func chartWithVersion(t *testing.T, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "kubeask")
	if err := os.CopyFS(dir, os.DirFS(chartDir(t))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "Chart.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^version: .*$`)
	if !re.Match(b) {
		t.Fatal("Chart.yaml has no version line")
	}
	if err := os.WriteFile(path, re.ReplaceAll(b, []byte("version: "+version)), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
