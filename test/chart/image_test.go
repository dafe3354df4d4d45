package chart_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestInstallsRunTheReleasedImage: VERSION, the chart's appVersion and the image both
// installs run (the chart's default rendering, config/default) agree, so releasing a
// version is one edit of VERSION plus Chart.yaml, and a stale tag fails here. Both
// installs pass the kubectl the image ships and mount a writable /tmp, which the
// kubectl tool needs under a read-only root filesystem.
func TestInstallsRunTheReleasedImage(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(cluster.Root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(raw))
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	raw, err = os.ReadFile(filepath.Join(chartDir(t), "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &chart); err != nil {
		t.Fatal(err)
	}
	if chart.AppVersion != version {
		t.Errorf("Chart.yaml appVersion %q, VERSION %q", chart.AppVersion, version)
	}
	want := "ghcr.io/kubeask/kubeask-manager:" + version

	installs := map[string]*appsv1.Deployment{
		"chart":          convert[appsv1.Deployment](t, one(t, render(t, "kubeask"), "Deployment")),
		"config/default": convert[appsv1.Deployment](t, one(t, kustomizeBuild(t, "config/default"), "Deployment")),
	}
	for name, d := range installs {
		pod := d.Spec.Template.Spec
		c := pod.Containers[0]
		if c.Image != want {
			t.Errorf("%s runs image %q, want %q", name, c.Image, want)
		}
		if !slices.Contains(c.Args, "--kubectl-path=/kubectl") {
			t.Errorf("%s does not pass --kubectl-path=/kubectl: %v", name, c.Args)
		}
		if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
			t.Errorf("%s: the root filesystem is not read-only", name)
		}
		if !writableTmp(pod, c) {
			t.Errorf("%s mounts no emptyDir at /tmp: mounts %v", name, c.VolumeMounts)
		}
	}
}

func writableTmp(pod corev1.PodSpec, c corev1.Container) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath != "/tmp" || m.ReadOnly {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				return true
			}
		}
	}
	return false
}
