package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubeask/kubeask/internal/manifest"
)

// waitNodeReady waits for the kubelet to register the node and report it Ready, which
// needs the container runtime and the CNI config to be working.
func (r *runner) waitNodeReady(ctx context.Context) error {
	return r.waitFor(ctx, "node "+nodeName+" Ready", func() error {
		n, err := r.admin.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				if c.Status != corev1.ConditionTrue {
					return fmt.Errorf("node not Ready: %s: %s", c.Reason, c.Message)
				}
				logf("   node %s Ready (kubelet %s, %s)", nodeName, n.Status.NodeInfo.KubeletVersion, n.Status.NodeInfo.ContainerRuntimeVersion)
				return nil
			}
		}
		return fmt.Errorf("node has no Ready condition yet")
	})
}

// pods proves the node runs pods as users see them: a host-network pod, a pod on the
// CNI bridge whose logs come back through the API server and the kubelet, and a pod
// that crash-loops with its real output. team-a and team-b and the demo users' RBAC
// come from hack/dev/demo.yaml, the RBAC `make dev` installs.
func (r *runner) pods(ctx context.Context) error {
	demo, err := os.ReadFile(filepath.Join(r.o.RepoRoot, "hack", "dev", "demo.yaml"))
	if err != nil {
		return err
	}
	objs, err := manifest.Decode(demo)
	if err != nil {
		return err
	}
	// Only the namespaces and RBAC: the demo's workloads name images of a registry that
	// does not exist, and this node runs only images imported into it.
	var rbac []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			rbac = append(rbac, o)
		}
	}
	if err := manifest.Apply(ctx, r.crAdmin, "kubeask-e2e", rbac); err != nil {
		return fmt.Errorf("applying hack/dev/demo.yaml: %w", err)
	}
	pod := func(ns, name string, hostNetwork bool, args ...string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{
				HostNetwork:                   hostNetwork,
				TerminationGracePeriodSeconds: new(int64(2)),
				Containers: []corev1.Container{{
					Name: "main", Image: pauseImage, ImagePullPolicy: corev1.PullNever, Args: args,
				}},
			},
		}
	}
	for _, p := range []*corev1.Pod{
		pod("default", "hostnet", true, "hello from the host network"),
		pod("team-a", "web", false, "hello from the pod network"),
		pod("team-a", "checkout", false, "crash", "checkout: cannot connect to the payments database"),
	} {
		// The namespace's default ServiceAccount appears a moment after the namespace.
		if err := r.waitFor(ctx, "creating pod "+p.Namespace+"/"+p.Name, func() error {
			_, err := r.admin.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		}); err != nil {
			return err
		}
	}
	_, pods, _ := net.ParseCIDR(podCIDR)
	for _, p := range []struct{ ns, name, log string }{
		{"default", "hostnet", "hello from the host network"},
		{"team-a", "web", "hello from the pod network"},
	} {
		var ip string
		if err := r.waitFor(ctx, "pod "+p.ns+"/"+p.name+" Running", func() error {
			got, err := r.admin.CoreV1().Pods(p.ns).Get(ctx, p.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("phase %s %s", got.Status.Phase, podProblem(got))
			}
			ip = got.Status.PodIP
			return nil
		}); err != nil {
			return err
		}
		if p.name == "web" && !pods.Contains(net.ParseIP(ip)) {
			return fmt.Errorf("pod %s/%s has IP %s, not on the CNI bridge %s", p.ns, p.name, ip, podCIDR)
		}
		if err := r.waitLog(ctx, p.ns, p.name, p.log, false); err != nil {
			return err
		}
		logf("   pod %s/%s Running at %s, logs: %q", p.ns, p.name, ip, p.log)
	}
	// Restarted after exiting 1 is a crash loop; the CrashLoopBackOff reason shows only
	// between restarts, and the status may skip it under load.
	if err := r.waitForWithin(ctx, 3*time.Minute, "pod team-a/checkout crash-looping", func() error {
		got, err := r.admin.CoreV1().Pods("team-a").Get(ctx, "checkout", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cs := range got.Status.ContainerStatuses {
			if t := cs.LastTerminationState.Terminated; cs.RestartCount >= 1 && t != nil && t.ExitCode == 1 {
				return nil
			}
		}
		return fmt.Errorf("not crash-looping yet %s", podProblem(got))
	}); err != nil {
		return err
	}
	if err := r.waitLog(ctx, "team-a", "checkout", "cannot connect to the payments database", true); err != nil {
		return err
	}
	logf("   pod team-a/checkout restarted after exiting 1, previous logs: %q", "crash checkout: cannot connect to the payments database")
	return nil
}

// waitLog waits until the pod's log (of the previous container, for a crashed one)
// contains want, read through the API server, which asks the kubelet.
func (r *runner) waitLog(ctx context.Context, ns, name, want string, previous bool) error {
	return r.waitFor(ctx, "logs of "+ns+"/"+name, func() error {
		b, err := r.admin.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Previous: previous}).DoRaw(ctx)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), want) {
			return fmt.Errorf("log %q lacks %q", b, want)
		}
		return nil
	})
}

// podProblem summarises why a pod is not running yet, for wait errors.
func podProblem(p *corev1.Pod) string {
	var b strings.Builder
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			fmt.Fprintf(&b, " %s: %s;", c.Type, c.Message)
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			fmt.Fprintf(&b, " %s waiting: %s %s;", cs.Name, w.Reason, w.Message)
		}
		if t := cs.State.Terminated; t != nil {
			fmt.Fprintf(&b, " %s terminated: %s %d;", cs.Name, t.Reason, t.ExitCode)
		}
	}
	return b.String()
}
