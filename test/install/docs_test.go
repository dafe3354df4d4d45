package install_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubeask/kubeask/internal/testcluster"
)

// TestInstallDoc runs docs/install.md's shell blocks in order against the release files
// of this checkout and a real kube-apiserver (no node): what a reader of the page runs.
func TestInstallDoc(t *testing.T) {
	root, err := testcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(root, "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := shellBlocks(string(page))
	if err != nil {
		t.Fatalf("docs/install.md: %v", err)
	}
	// Commands the page must keep in blocks this test runs: tagging them away would
	// leave the install untested.
	mustRun := []string{"sha256sum", "kubectl ask version", "helm lint", "helm template", "helm install", "kubectl apply", "helm upgrade", "helm uninstall", "kubectl delete crd"}
	var runnable strings.Builder
	for _, b := range blocks {
		if b.Tag == "" {
			runnable.WriteString(b.Text)
		}
	}
	for _, c := range mustRun {
		if !strings.Contains(runnable.String(), c) {
			t.Errorf("docs/install.md has no untagged block with %q: the test would not run it", c)
		}
	}

	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(b))

	work := t.TempDir()
	tools := toolsDir(t, root, work)
	buildRelease(t, root, filepath.Join(work, "dist"))
	kubeconfig := startCluster(t, work)
	home := filepath.Join(work, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"HOME="+home,
		"KUBECONFIG="+kubeconfig,
		// The plugin the page installs comes first, then helm and kubectl of this repo.
		"PATH="+filepath.Join(home, ".local", "bin")+string(os.PathListSeparator)+tools+string(os.PathListSeparator)+os.Getenv("PATH"),
	)

	reasons := skipReasons()
	for _, b := range blocks {
		t.Run(fmt.Sprintf("line %d", b.Line), func(t *testing.T) {
			if b.Tag != "" {
				t.Skipf("sh %s: %s", b.Tag, reasons[b.Tag])
			}
			// The page names the linux/amd64 archive, which this test builds on every
			// machine but can only run on one like it.
			if strings.Contains(b.Text, "linux_amd64") && (runtime.GOOS != "linux" || runtime.GOARCH != "amd64") {
				t.Skipf("runs a linux/amd64 binary; this is %s/%s", runtime.GOOS, runtime.GOARCH)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", b.Text)
			cmd.Dir, cmd.Env = work, env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("docs/install.md line %d:\n%s%v; output:\n%s", b.Line, b.Text, err, out)
			}
			t.Logf("%s%s", b.Text, out)
			// The archive's binary was stamped with the release's version.
			if strings.Contains(b.Text, "kubectl ask version") && !strings.Contains(string(out), "kubectl-ask "+version+"\n") {
				t.Errorf("kubectl ask version printed %q, want kubectl-ask %s", out, version)
			}
		})
	}
}

// toolsDir makes a directory with helm ($KUBEASK_HELM) and kubectl (of the test control
// plane) only: the repository's bin/ also holds a kubectl-ask of its own.
func toolsDir(t *testing.T, root, work string) string {
	t.Helper()
	helm := os.Getenv("KUBEASK_HELM")
	if helm == "" {
		t.Fatal("KUBEASK_HELM is not set: run `make $PWD/bin/helm` and `KUBEASK_HELM=$PWD/bin/helm go test ./test/install/` (make test sets it)")
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s", testcluster.K8sVersion)
	}
	dir := filepath.Join(work, "tools")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"helm": helm, "kubectl": filepath.Join(assets, "kubectl")} {
		if _, err := os.Stat(target); err != nil {
			t.Fatalf("%s: %v (make test builds it)", name, err)
		}
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildRelease builds the release files into dist with hack/dist, the program behind
// make dist, for linux/amd64 (the archive the page names) and this machine, without the
// krew manifest, which needs every platform (hack/dist's tests check it). The image
// archive is copied when make image has built it; the page's blocks that use it need a
// node and are make e2e's.
func buildRelease(t *testing.T, root, dist string) {
	t.Helper()
	platforms := "linux/amd64"
	if host := runtime.GOOS + "/" + runtime.GOARCH; host != platforms {
		platforms += "," + host
	}
	cmd := exec.CommandContext(t.Context(), "go", "run", "./hack/dist",
		"--out", dist, "--platforms", platforms, "--krew-template=",
		"--helm", os.Getenv("KUBEASK_HELM"), "--mtime", "315532800",
		"--image", filepath.Join(root, "bin", "image", "kubeask-manager.oci.tar"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hack/dist: %v\n%s", err, out)
	}
	t.Logf("hack/dist:\n%s", out)
}

// startCluster starts a control plane without the kubeask CRDs (the chart installs
// them) and writes a kubeconfig of a cluster admin.
func startCluster(t *testing.T, work string) string {
	t.Helper()
	ctrl.SetLogger(logr.Discard()) // envtest logs through controller-runtime's logger
	cluster, err := testcluster.Start(testcluster.Options{SkipCRDs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	admin, err := cluster.UserConfig("install-doc-admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(work, "kubeconfig")
	if err := clientcmd.WriteToFile(kubeconfigOf(admin), path); err != nil {
		t.Fatal(err)
	}
	return path
}

func kubeconfigOf(cfg *rest.Config) clientcmdapi.Config {
	kc := clientcmdapi.NewConfig()
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin"}
	kc.CurrentContext = "test"
	return *kc
}
