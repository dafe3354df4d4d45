package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// setUpNamespace gives the namespace its loopback and the node's address, and the
// processes in it their own /etc/hosts and /etc/resolv.conf. The address is on a bridge
// without ports (these kernels have no dummy interfaces): nothing outside the namespace
// can reach it, and the kubelet refuses a loopback node IP. The default route exists
// only so that the kernel has a route to look up for ClusterIPs before kube-proxy's
// DNAT rewrites them; it leads nowhere. The resolver points at loopback, where nothing
// answers, so no name lookup leaves the namespace (the host's resolver would be tried
// otherwise, and time out); /etc/hosts names the node.
func (r *runner) setUpNamespace(context.Context) error {
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "node0", "type", "bridge"},
		{"addr", "add", nodeIP + "/24", "dev", "node0"},
		{"link", "set", "node0", "up"},
		{"route", "add", "default", "dev", "node0"},
	} {
		if _, err := run("ip", args...); err != nil {
			return err
		}
	}
	etc := filepath.Join(r.state, "etc")
	if err := os.MkdirAll(etc, 0o750); err != nil {
		return err
	}
	files := map[string]string{
		"/etc/hosts":       "127.0.0.1 localhost\n" + nodeIP + " " + nodeName + "\n",
		"/etc/resolv.conf": "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
	}
	for target, content := range files {
		src := filepath.Join(etc, filepath.Base(target))
		// World-readable, as these files are on every system: non-root processes read them.
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil { //nolint:gosec // G306: see above
			return err
		}
		if err := bindMount(src, target); err != nil {
			return err
		}
	}
	return nil
}

// node paths, all under the state directory.
type nodePaths struct {
	root, containerdSock string
}

func (r *runner) nodePaths() nodePaths {
	root := filepath.Join(r.state, "node")
	return nodePaths{root: root, containerdSock: filepath.Join(root, "containerd", "containerd.sock")}
}

// pauseImage is the sandbox image, built here (hack/e2e/pause) and never pulled.
const pauseImage = "kubeask.local/pause:e2e"

// startContainerd writes containerd's config and starts it. The settings are those
// docs/e2e.md explains: the native snapshotter (no overlay mounts in this container),
// Debian's runc without systemd cgroups, restrict_oom_score_adj because the process lacks
// CAP_SYS_RESOURCE, and the pause image built here as the sandbox.
func (r *runner) startContainerd(ctx context.Context) error {
	p := r.nodePaths()
	dir := filepath.Join(p.root, "containerd")
	for _, d := range []string{dir, filepath.Join(p.root, "cni", "net.d"), filepath.Join(p.root, "cni", "ipam")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	cfg := fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

# ctr and the CRI unpack images through the transfer service, which otherwise unpacks
# only for the default snapshotter (overlayfs, which does not load here).
[plugins."io.containerd.transfer.v1.local"]
  unpack_config = [{platform = "linux/%[9]s", snapshotter = "native"}]

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "native"
  # Every registry is 127.0.0.1:9, where nothing listens: an image that was not
  # imported fails at once instead of being pulled from the internet.
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = %[10]q
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = %[4]q

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = [%[5]q]
    conf_dir = %[6]q
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = %[7]q
        SystemdCgroup = false
        Root = %[8]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), p.containerdSock, pauseImage,
		filepath.Join(r.o.NodeBin, "cni"), filepath.Join(p.root, "cni", "net.d"), r.o.Runc, filepath.Join(dir, "runc"), goarch(), filepath.Join(dir, "certs.d"))
	cfgFile := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "certs.d", "_default"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "certs.d", "_default", "hosts.toml"), []byte(`server = "http://127.0.0.1:9"
[host."http://127.0.0.1:9"]
  capabilities = ["pull", "resolve"]
`), 0o600); err != nil {
		return err
	}
	// The runc shim is found on PATH, next to containerd.
	path := "PATH=" + r.o.NodeBin + ":" + os.Getenv("PATH")
	if _, err := r.sup.start("containerd", filepath.Join(r.o.NodeBin, "containerd"), []string{"--config=" + cfgFile}, []string{path}); err != nil {
		return err
	}
	return r.waitFor(ctx, "containerd", func() error {
		_, err := r.ctr("version")
		return err
	})
}

// ctr runs containerd's CLI against our containerd, in the CRI's namespace.
func (r *runner) ctr(args ...string) (string, error) {
	return run(filepath.Join(r.o.NodeBin, "ctr"), append([]string{"--address", r.nodePaths().containerdSock, "-n", "k8s.io"}, args...)...)
}

// importImage imports an OCI archive into containerd's CRI namespace, unpacked for the
// native snapshotter so that the kubelet finds it and never pulls.
func (r *runner) importImage(archive string, extra ...string) error {
	args := append([]string{"images", "import", "--snapshotter=native", "--platform=linux/" + goarch()}, extra...)
	_, err := r.ctr(append(args, archive)...)
	return err
}

// writeCNIConfig writes the pod network: one bridge with the node's pod range, and
// portmap for hostPort. containerd runs the loopback plugin itself for each pod's lo.
func (r *runner) writeCNIConfig() error {
	p := r.nodePaths()
	conf := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "kubeask-e2e",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, podCIDR, filepath.Join(p.root, "cni", "ipam"))
	return os.WriteFile(filepath.Join(p.root, "cni", "net.d", "10-kubeask-e2e.conflist"), []byte(conf), 0o600)
}

// startKubelet writes the kubelet's configuration and starts it. The cgroup settings
// are what hybrid cgroup v1 on these machines needs (docs/e2e.md): cgroupfs, no QoS
// hierarchy, no node allocatable enforcement, v1 allowed; eviction is off because the
// shared disk's usage is not ours to react to.
func (r *runner) startKubeletProcess() (*process, error) {
	c, p := r.c, r.nodePaths()
	dir := filepath.Join(p.root, "kubelet")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	serving, err := c.ca.serving("kubelet-serving", []string{nodeIP}, nodeName)
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[2]q}
authorization: {mode: Webhook}
tlsCertFile: %[3]q
tlsPrivateKeyFile: %[4]q
containerRuntimeEndpoint: unix://%[5]s
podLogsDir: %[6]q
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failCgroupV1: false
failSwapOn: false
localStorageCapacityIsolation: false
evictionHard: {memory.available: "0%%", nodefs.available: "0%%", nodefs.inodesFree: "0%%", imagefs.available: "0%%", imagefs.inodesFree: "0%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: ""
clusterDomain: cluster.local
registerNode: true
volumePluginDir: %[7]q
`, nodeIP, c.ca.certFile(), serving.certFile, serving.keyFile, p.containerdSock, filepath.Join(p.root, "pod-logs"), filepath.Join(dir, "volume-plugins"))
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return r.sup.start("kubelet", filepath.Join(r.o.NodeBin, "kubelet"), []string{
		"--config=" + cfgFile,
		"--kubeconfig=" + c.kubeconfigs["kubelet"],
		"--root-dir=" + filepath.Join(dir, "root"),
		"--hostname-override=" + nodeName,
		"--node-ip=" + nodeIP,
		"--v=2",
	}, []string{"PATH=" + r.o.NodeBin + ":" + os.Getenv("PATH")})
}

// startKubeProxy starts kube-proxy in iptables mode, so that pods reach the API server
// through the kubernetes Service as in any cluster. Conntrack tuning is off: those
// sysctls are global, not ours to change.
func (r *runner) startKubeProxyProcess() (*process, error) {
	c, dir := r.c, filepath.Join(r.nodePaths().root, "kube-proxy")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %q}
mode: iptables
clusterCIDR: %s
hostnameOverride: %s
bindAddress: %s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`, c.kubeconfigs["kube-proxy"], podCIDR, nodeName, nodeIP)
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return r.sup.start("kube-proxy", filepath.Join(r.o.NodeBin, "kube-proxy"), []string{"--config=" + cfgFile, "--v=2"}, nil)
}

// recordContainers writes the IDs of containerd's containers for the host's cgroup
// clean-up, which runs after the namespaces are gone.
func (r *runner) recordContainers() {
	out, err := r.ctr("containers", "ls", "-q")
	if err != nil {
		return
	}
	ids := containerIDs(out)
	_ = os.WriteFile(filepath.Join(r.state, "cgroups"), []byte(strings.Join(ids, "\n")+"\n"), 0o600)
}

// stopContainers stops every pod before the kubelet and containerd go, so runc deletes
// the containers' cgroups (the namespaces' end would only kill the processes).
func (r *runner) stopContainers() {
	r.recordContainers()
	out, err := r.ctr("tasks", "ls", "-q")
	if err != nil {
		return
	}
	ids := containerIDs(out)
	for _, id := range ids {
		_, _ = r.ctr("tasks", "kill", "-s", "SIGKILL", id)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for time.Now().Before(deadline) {
			if _, err := r.ctr("tasks", "delete", id); err == nil || strings.Contains(err.Error(), "not found") {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// containerIDs picks the container IDs out of ctr's output, which also carries
// containerd's warnings (cgroup v1 deprecation).
func containerIDs(out string) []string {
	var ids []string
	for _, f := range strings.Fields(out) {
		if len(f) == 64 && strings.Trim(f, "0123456789abcdef") == "" {
			ids = append(ids, f)
		}
	}
	return ids
}
