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
		"--image-wait=" + o.ImageWait.String(), "--state-dir=" + o.StateDir,
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

// runInit is PID 1 of the namespaces: it gives them a private mount tree and their own
// /proc (so the kubelet sees only our processes), starts the driver, relays signals to
// it and reaps every orphan (daemonized shims are re-parented to PID 1). It returns when
// the driver exits, which ends the namespace.
func runInit() error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
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

// removeCgroups removes the cgroup directories of the containers listed in idsFile (one
// ID a line). The namespaces end every process but cgroups are global: runc leaves a
// container's directories behind when its task is never deleted (a SIGKILL ended
// containerd first).
func removeCgroups(idsFile string) {
	b, err := os.ReadFile(idsFile)
	if err != nil {
		return
	}
	ids := map[string]bool{}
	for _, id := range strings.Fields(string(b)) {
		ids[id] = true
	}
	var dirs []string
	_ = filepath.WalkDir("/sys/fs/cgroup", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(path, "/sys/fs/cgroup"), "/") > 4 {
			return filepath.SkipDir
		}
		if ids[d.Name()] {
			dirs = append(dirs, path)
			return filepath.SkipDir
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		// A process that outlived its namespace would keep the directory busy; the
		// kernel needs a moment after the namespace's last process exits.
		for i := 0; i < 10; i++ {
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
