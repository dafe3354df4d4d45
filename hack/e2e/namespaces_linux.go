package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// spawnInNamespaces re-executes the driver as PID 1 ("init") of new PID, network,
// mount, UTS and IPC namespaces. The network namespace is why traffic stays ours: the
// node's address, the pod bridge and the Service IPs exist only there. The PID namespace
// is why nothing leaks: when init exits, the kernel kills every process left in it
// (containerd shims that daemonized, containers), and the mount namespace takes the
// kubelet's and runc's mounts with it.
func (o *options) spawnInNamespaces() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{
		"--repo-root=" + o.RepoRoot, "--k8s-bin=" + o.K8sBin, "--node-bin=" + o.NodeBin,
		"--helm=" + o.Helm, "--runc=" + o.Runc, "--image=" + o.Image,
		"--manager-binary=" + o.ManagerBinary, "--image-wait=" + o.ImageWait.String(), "--state-dir=" + o.StateDir,
		"--timeout=" + o.Timeout.String(), "--webhook=" + strconv.FormatBool(o.Webhook),
	}
	attr := &os.ProcAttr{
		Env:   withRole("init"),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNET | syscall.CLONE_NEWNS |
				syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
			Pdeathsig: syscall.SIGKILL,
		},
	}
	p, err := os.StartProcess(self, append([]string{self}, args...), attr)
	if err != nil {
		return fmt.Errorf("creating the e2e namespaces: %w", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		for s := range sig {
			_ = p.Signal(s)
		}
	}()
	st, err := p.Wait()
	if err != nil {
		return err
	}
	if !st.Success() {
		return fmt.Errorf("the run failed (%s)", st)
	}
	return nil
}

// runInit is PID 1 of the namespaces: it gives them a private mount tree, their own
// /proc (so the kubelet sees only our processes) and private /run, /var/lib and /var/log, starts the driver, relays signals to
// it and reaps every orphan (daemonized shims are re-parented to PID 1). It returns when
// the driver exits, which ends the namespace.
func runInit() error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	// Places the node's components write to whatever their configuration says (shim
	// sockets under /run/containerd, CNI results under /var/lib/cni, the kubelet's
	// /var/log/containers links) get empty private filesystems: the host's stay untouched,
	// and they vanish with the namespace.
	for _, dir := range []string{"/run", "/var/lib", "/var/log"} {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755,size=256m"); err != nil {
			return fmt.Errorf("mounting a tmpfs on %s: %w", dir, err)
		}
	}
	if err := syscall.Sethostname([]byte(nodeName)); err != nil {
		return fmt.Errorf("setting the hostname: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	//nolint:gosec // G702: re-executes this very binary with the arguments it was given.
	p, err := os.StartProcess(self, os.Args, &os.ProcAttr{
		Env:   withRole("driver"),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		return err
	}
	for {
		s := <-sig
		if s != syscall.SIGCHLD {
			_ = p.Signal(s)
			continue
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err != nil || pid <= 0 {
				break
			}
			if pid == p.Pid {
				if ws.Signaled() {
					return fmt.Errorf("driver: %v", exitText(ws))
				}
				// The driver has reported its failure; pass its status on quietly.
				os.Exit(ws.ExitStatus())
			}
		}
	}
}

func exitText(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

// cgroupParent is the cgroup under which containerd's CRI namespace puts containers
// when the kubelet runs without a QoS hierarchy.
const cgroupParent = "k8s.io"

// cgroupParents returns the cgroup directories named cgroupParent that exist now, in
// every v1 hierarchy (and the unified one).
func cgroupParents() map[string]bool {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cgroupParent))
	found := map[string]bool{}
	for _, d := range dirs {
		found[d] = true
	}
	return found
}

// removeCgroups removes the cgroup directories of the containers listed in idsFile and
// the parents that did not exist before the run. The namespaces end every process but
// cgroups are global: runc leaves a container's directories behind when its task is
// never deleted (a SIGKILL ended containerd first), and nothing removes the parents.
func removeCgroups(idsFile string, before map[string]bool) {
	ids := map[string]bool{}
	if b, err := os.ReadFile(idsFile); err == nil {
		for _, id := range strings.Fields(string(b)) {
			ids[id] = true
		}
	}
	var dirs []string
	for parent := range cgroupParents() {
		entries, _ := os.ReadDir(parent)
		for _, e := range entries {
			if e.IsDir() && ids[e.Name()] {
				dirs = append(dirs, filepath.Join(parent, e.Name()))
			}
		}
		if !before[parent] {
			dirs = append(dirs, parent)
		}
	}
	// Children before parents.
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		// The kernel needs a moment after the namespace's last process exits.
		for range 10 {
			err := os.Remove(d)
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// withRole returns our environment with roleEnv set to role (os.StartProcess passes
// duplicates through, and the child would read the first one).
func withRole(role string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, roleEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, roleEnv+"="+role)
}

// bindMount mounts file over target, in the namespace's private mount tree.
func bindMount(file, target string) error {
	if err := syscall.Mount(file, target, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mounting %s on %s: %w", file, target, err)
	}
	return nil
}
