package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// k8sVersion is the control-plane version `make controlplane` builds.
const k8sVersion = "v1.37.2"

// options configure one dev environment. They are filled by flags (AddFlags), defaulted
// by Complete, checked by Validate and executed by Run.
type options struct {
	StateDir   string
	BinDir     string
	ManagerBin string
	// HelmBin installs the chart (charts/kubeask under RepoRoot).
	HelmBin   string
	NoManager bool
	// ModelConfig is a model catalog for the manager; empty runs the demo model.
	ModelConfig    string
	KeepState      bool
	ReadyFile      string
	ExitAfterReady bool
	RepoRoot       string
	GracePeriod    time.Duration
	StartTimeout   time.Duration

	// Out receives the progress and the instructions; tests silence it.
	Out io.Writer
	// onReady, if set, is called once everything is ready, before the instructions are
	// printed. Tests use it to learn the environment without polling the ready file.
	onReady func(readyInfo)
	// chartArgs are the manager container's args of the chart's Deployment, set once the
	// chart is installed (managerArgs makes them local).
	chartArgs []string
}

func newOptions(out io.Writer) *options {
	return &options{
		Out:          out,
		GracePeriod:  10 * time.Second,
		StartTimeout: 3 * time.Minute,
	}
}

// AddFlags registers the command-line flags on fs.
func (o *options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.StateDir, "state-dir", ".dev", "directory for certificates, kubeconfigs, etcd data and logs")
	fs.StringVar(&o.ModelConfig, "model-config", "", "model catalog for the manager (see docs/agent.md); empty runs a local demo model")
	fs.StringVar(&o.BinDir, "bin-dir", "", "directory holding etcd, kube-apiserver, kube-controller-manager and kube-scheduler (default $KUBEBUILDER_ASSETS, else <repo>/bin/k8s/"+k8sVersion+")")
	fs.StringVar(&o.ManagerBin, "manager", "", "path of the kubeask-manager binary (default <repo>/bin/kubeask-manager)")
	fs.StringVar(&o.HelmBin, "helm", "", "path of the helm binary that installs charts/kubeask (default $KUBEASK_HELM, else <repo>/bin/helm)")
	fs.BoolVar(&o.NoManager, "no-manager", false, "run the control plane, CRDs, policies and demo users without the operator")
	fs.BoolVar(&o.KeepState, "keep-state", false, "keep the etcd data of the previous run instead of starting empty")
	fs.StringVar(&o.ReadyFile, "ready-file", "", "write a JSON description of the environment to this file once everything is ready")
	fs.BoolVar(&o.ExitAfterReady, "exit-after-ready", false, "shut down cleanly as soon as everything is ready (for scripts and tests)")
	fs.StringVar(&o.RepoRoot, "repo-root", "", "repository root holding config/ (default: found above the working directory)")
	fs.DurationVar(&o.GracePeriod, "grace-period", o.GracePeriod, "how long each process gets to exit after SIGTERM before SIGKILL")
	fs.DurationVar(&o.StartTimeout, "start-timeout", o.StartTimeout, "how long start-up may take before giving up")
}

// Complete fills the defaults that depend on the environment and makes paths absolute,
// because the processes and the printed instructions must not depend on a working directory.
func (o *options) Complete() error {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.RepoRoot == "" {
		root, err := findRepoRoot()
		if err != nil {
			return err
		}
		o.RepoRoot = root
	}
	if o.BinDir == "" {
		o.BinDir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if o.BinDir == "" {
		o.BinDir = filepath.Join(o.RepoRoot, "bin", "k8s", k8sVersion)
	}
	if o.ManagerBin == "" {
		o.ManagerBin = filepath.Join(o.RepoRoot, "bin", "kubeask-manager")
	}
	if o.HelmBin == "" {
		o.HelmBin = os.Getenv("KUBEASK_HELM")
	}
	if o.HelmBin == "" {
		o.HelmBin = filepath.Join(o.RepoRoot, "bin", "helm")
	}
	for _, p := range []*string{&o.StateDir, &o.BinDir, &o.ManagerBin, &o.HelmBin, &o.RepoRoot, &o.ReadyFile} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", *p, err)
		}
		*p = abs
	}
	return nil
}

// Validate checks everything that can be checked before starting a process, so a
// missing binary is reported at once instead of after half a control plane started.
func (o *options) Validate() error {
	var errs []error
	if o.StateDir == "" {
		errs = append(errs, errors.New("--state-dir must not be empty"))
	}
	// The programs hack/build-controlplane.sh builds into BinDir, reported together so a
	// wrong --bin-dir gives one line, not four.
	var missing []string
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		if checkExecutable(filepath.Join(o.BinDir, b)) != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("%s missing in %s: run `make controlplane` to build the control plane, or pass --bin-dir",
			strings.Join(missing, ", "), o.BinDir))
	}
	if !o.NoManager {
		if err := checkExecutable(o.ManagerBin); err != nil {
			errs = append(errs, fmt.Errorf("%w (run `make build`, or pass --no-manager to run everything but the operator)", err))
		}
	}
	if err := checkExecutable(o.HelmBin); err != nil {
		errs = append(errs, fmt.Errorf("%w (run `make bin/helm`, or pass --helm)", err))
	}
	if _, err := os.Stat(filepath.Join(o.chartDir(), "Chart.yaml")); err != nil {
		errs = append(errs, fmt.Errorf("the chart: %w (is --repo-root right?)", err))
	}
	if o.GracePeriod <= 0 {
		errs = append(errs, errors.New("--grace-period must be positive"))
	}
	if o.StartTimeout <= 0 {
		errs = append(errs, errors.New("--start-timeout must be positive"))
	}
	return errors.Join(errs...)
}

func (o *options) chartDir() string { return filepath.Join(o.RepoRoot, "charts", "kubeask") }

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// findRepoRoot walks up from the working directory to the directory holding PROJECT and
// go.mod, so the command works from the repository root (make) and from hack/dev (go test).
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if fileExists(filepath.Join(dir, "PROJECT")) && fileExists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (with PROJECT and go.mod) not found above the working directory; pass --repo-root")
		}
		dir = parent
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
