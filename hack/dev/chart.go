package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubeask/kubeask/internal/manifest"
)

// kubeask is installed by `make dev` the way users install it: the chart, as the release
// docs/install.md names, in its namespace. The manager runs on this machine instead of in
// the chart's Deployment (scaled to 0), as the chart's ServiceAccount.
const (
	releaseName      = "kubeask"
	managerNamespace = "kubeask-system"
	// managerServiceAccount is the chart's ServiceAccount of the release kubeask (its
	// fullname: the release name, which already contains the chart's name).
	managerServiceAccount = "kubeask"
)

// devValues are the chart's values in make dev, written to .dev/values.yaml: no manager
// pod (the manager runs here, one process, so no leader election), every agent mode (the
// demo catalog's default profile allows Propose and Auto) and the model key Secrets of
// --model-config, which the chart lets the manager get by name.
func devValues(keySecrets []string) ([]byte, error) {
	v := map[string]any{
		"replicaCount":   0,
		"leaderElection": map[string]any{"enabled": false},
		"agent":          map[string]any{"allowedModes": []string{"ReadOnly", "Propose", "Auto"}},
	}
	if len(keySecrets) > 0 {
		v["apiKeySecrets"] = keySecrets
	}
	data, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the chart values: %w", err)
	}
	header := "# The values make dev installs charts/kubeask with (release " + releaseName + " in " + managerNamespace + ").\n" +
		"# The manager runs as a local process with the release's ServiceAccount: see docs/dev.md.\n"
	return append([]byte(header), data...), nil
}

// installChart installs (or, with --keep-state, upgrades) the chart as admin with bin/helm
// and returns the args of the manager container of the Deployment it rendered: the
// command line the chart gives the manager, which the local manager then runs with.
// Helm installs the CRDs of the chart's crds/ first and waits until they are
// Established; the admission policies are the chart's.
func (o *options) installChart(ctx context.Context, l layout, adminKubeconfig, valuesPath string) ([]string, error) {
	cmd := exec.CommandContext(ctx, o.HelmBin, "upgrade", "--install", releaseName, o.chartDir(),
		"--namespace", managerNamespace, "--create-namespace",
		"--kubeconfig", adminKubeconfig, "--values", valuesPath, "--output", "json")
	// Helm's own caches and settings in the state dir: nothing of the user's helm set-up
	// matters for a local chart, and nothing of ours is left in ~.
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+l.run("helm/config"), "HELM_CACHE_HOME="+l.run("helm/cache"), "HELM_DATA_HOME="+l.run("helm/data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm upgrade --install %s %s: %w\n%s", releaseName, o.chartDir(), err, strings.TrimSpace(stderr.String()))
	}
	var rel struct {
		Manifest string `json:"manifest"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rel); err != nil {
		return nil, fmt.Errorf("reading helm's release: %w", err)
	}
	objs, err := manifest.Decode([]byte(rel.Manifest))
	if err != nil {
		return nil, fmt.Errorf("decoding the release's manifest: %w", err)
	}
	return chartManagerArgs(objs)
}

// chartManagerArgs returns the args of the container "manager" of the rendered Deployment.
func chartManagerArgs(objs []*unstructured.Unstructured) ([]string, error) {
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if err != nil {
			return nil, fmt.Errorf("the chart's Deployment: %w", err)
		}
		for _, c := range containers {
			m, ok := c.(map[string]any)
			if !ok || m["name"] != "manager" {
				continue
			}
			args, _, err := unstructured.NestedStringSlice(m, "args")
			if err != nil {
				return nil, fmt.Errorf("the chart's manager container: %w", err)
			}
			return args, nil
		}
	}
	return nil, fmt.Errorf("the chart rendered no Deployment with a container named manager")
}

// localManagerArgs turns the chart's command line for the manager's pod into one for a
// process on this machine: its kubeconfig (the release's ServiceAccount), the namespace
// the pod would learn from $(POD_NAMESPACE), the catalog at config (none: no agent), the
// probes on probe, metrics on a free port, kubectl from the control plane's binaries
// (none: no kubectl tool), and no leader election. Every other flag is the chart's.
func localManagerArgs(chartArgs []string, kubeconfig, probe, config, kubectl string) []string {
	args := []string{"--kubeconfig=" + kubeconfig}
	for _, a := range chartArgs {
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--config":
			if config == "" {
				continue
			}
			a = "--config=" + config
		case "--metrics-bind-address":
			// Port 0: nobody scrapes metrics in dev, and a fixed port would collide.
			a = "--metrics-bind-address=127.0.0.1:0"
		case "--health-probe-bind-address":
			a = "--health-probe-bind-address=" + probe
		case "--kubectl-path":
			if kubectl == "" {
				continue
			}
			a = "--kubectl-path=" + kubectl
		case "--leader-elect", "--leader-election-namespace":
			continue
		default:
			a = strings.ReplaceAll(a, "$(POD_NAMESPACE)", managerNamespace)
		}
		args = append(args, a)
	}
	return append(args, "--leader-elect=false")
}
