// Command e2e is `make e2e`: it adds a real node (kubelet, containerd with Debian's
// runc, CNI bridge networking, kube-proxy) to a local control plane built from Go
// modules, imports the kubeask-manager image, installs charts/kubeask with helm, and runs
// the product end to end through the installed manager. See docs/e2e.md.
//
// Everything runs inside namespaces the driver creates (network, PID, mount, UTS), so
// all traffic stays on addresses of our own, and the kernel stops every process and
// drops every mount when the driver ends, whatever happened.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubeask/kubeask/internal/testcluster"
)

// roleEnv tells a re-executed driver which part it plays: unset on the host, "init"
// as PID 1 of the new namespaces, "driver" for the run itself.
const roleEnv = "KUBEASK_E2E_ROLE"

// options configure one e2e run; flags fill them, Complete defaults them.
type options struct {
	RepoRoot string
	K8sBin   string // etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
	NodeBin  string // kubelet, kube-proxy, containerd, shims, ctr, pause, cni/
	Helm     string
	Runc     string
	Image    string // the OCI archive of kubeask-manager (make image)
	// ManagerBinary, if set, replaces the archive with a throwaway image holding only
	// this binary: for working on the test while `make image` is not available.
	ManagerBinary string
	ImageWait     time.Duration
	StateDir      string
	Keep          bool
	Timeout       time.Duration
	Webhook       bool
}

func main() {
	o := &options{}
	fs := flag.NewFlagSet("e2e", flag.ExitOnError)
	fs.StringVar(&o.RepoRoot, "repo-root", "", "repository root (default: found above the working directory)")
	fs.StringVar(&o.K8sBin, "k8s-bin", "", "control plane binaries (default <repo>/bin/k8s/"+testcluster.K8sVersion+")")
	fs.StringVar(&o.NodeBin, "node-bin", "", "node binaries from hack/build-node.sh (default <repo>/bin/node)")
	fs.StringVar(&o.Helm, "helm", "", "helm binary (default <repo>/bin/helm)")
	fs.StringVar(&o.Runc, "runc", "/usr/sbin/runc", "runc binary (Debian's: crun fails on hybrid cgroups)")
	fs.StringVar(&o.Image, "image", "", "kubeask-manager OCI archive (default <repo>/bin/image/kubeask-manager.oci.tar)")
	fs.StringVar(&o.ManagerBinary, "manager-binary", "", "test a throwaway image holding only this static kubeask-manager binary instead of --image (development only)")
	fs.DurationVar(&o.ImageWait, "image-wait", 0, "how long to wait for the image archive to appear (another build may be writing it)")
	fs.StringVar(&o.StateDir, "state-dir", "", "directory for certificates, data and logs (default a new directory under /tmp)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the state directory (logs) after a successful run")
	fs.DurationVar(&o.Timeout, "timeout", 20*time.Minute, "bound on the whole run")
	fs.BoolVar(&o.Webhook, "webhook", true, "also test a second install in admission webhook mode")
	_ = fs.Parse(os.Args[1:])

	var err error
	switch os.Getenv(roleEnv) {
	case "":
		err = o.host()
	case "init":
		err = runInit()
	case "driver":
		err = o.driver()
	default:
		err = fmt.Errorf("unknown %s", roleEnv)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: %v\n", err)
		os.Exit(1)
	}
}

// complete fills the defaults and checks that everything the run needs is there, so a
// missing build fails in the first second with the command that makes it.
func (o *options) complete() error {
	if o.RepoRoot == "" {
		root, err := testcluster.RepoRoot()
		if err != nil {
			return err
		}
		o.RepoRoot = root
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.K8sBin, filepath.Join(o.RepoRoot, "bin", "k8s", testcluster.K8sVersion))
	def(&o.NodeBin, filepath.Join(o.RepoRoot, "bin", "node"))
	def(&o.Helm, filepath.Join(o.RepoRoot, "bin", "helm"))
	def(&o.Image, filepath.Join(o.RepoRoot, "bin", "image", "kubeask-manager.oci.tar"))
	need := map[string]string{
		filepath.Join(o.K8sBin, "kube-apiserver"): "make controlplane",
		filepath.Join(o.K8sBin, "kubectl"):        "make controlplane",
		filepath.Join(o.NodeBin, "kubelet"):       "make node",
		filepath.Join(o.NodeBin, "containerd"):    "make node",
		filepath.Join(o.NodeBin, "pause"):         "make node",
		filepath.Join(o.NodeBin, "cni", "bridge"): "make node",
		o.Helm:               "make bin/helm",
		o.Runc:               "apt-get install runc",
		"/usr/sbin/iptables": "apt-get install iptables",
	}
	for path, fix := range need {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s is missing: run `%s`", path, fix)
		}
	}
	return nil
}

// host is the entry point on the host: it starts the init process in new namespaces,
// relays a Ctrl-C or SIGTERM to it, and removes what the kernel does not (cgroup
// directories, the state directory).
func (o *options) host() error {
	if err := o.complete(); err != nil {
		return err
	}
	if o.StateDir == "" {
		dir, err := os.MkdirTemp("", "kubeask-e2e-")
		if err != nil {
			return err
		}
		o.StateDir = dir
	}
	began := time.Now()
	logf("state and logs in %s", o.StateDir)
	cgroupsBefore := cgroupParents()
	err := o.spawnInNamespaces()
	removeCgroups(filepath.Join(o.StateDir, "cgroups"), cgroupsBefore)
	if err != nil {
		logf("logs kept in %s", o.StateDir)
		return err
	}
	if !o.Keep {
		if rmErr := os.RemoveAll(o.StateDir); rmErr != nil {
			logf("removing %s: %v", o.StateDir, rmErr)
		}
	}
	logf("PASS in %s", time.Since(began).Round(time.Second))
	return nil
}

// driver runs the whole test inside the namespaces; it returns the first failure.
func (o *options) driver() error {
	if err := o.complete(); err != nil {
		return err
	}
	// controller-runtime's client warns, with a stack, when no logger was set.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, fmt.Errorf("the run took longer than --timeout=%s", o.Timeout))
	defer cancel()
	r := &runner{o: o, state: o.StateDir}
	err := r.run(ctx)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w (%w)", err, cause)
	}
	return err
}

// logf prints one progress line with the time, so slow steps stand out in CI logs.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s e2e: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
