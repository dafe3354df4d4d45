package main

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// helmBinary returns $KUBEASK_HELM (make test sets it), failing clearly without it.
func helmBinary(t *testing.T) string {
	t.Helper()
	h := os.Getenv("KUBEASK_HELM")
	if h == "" {
		t.Fatal("KUBEASK_HELM is not set: run `make $PWD/bin/helm` and `KUBEASK_HELM=$PWD/bin/helm go test ./hack/dist/` (make test sets it)")
	}
	return h
}

// repoVersion is the VERSION file's version, which the chart carries too.
func repoVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// writeImageArchive writes an OCI layout tar whose index.json names ref, the part of
// `make image`'s archive that dist reads.
func writeImageArchive(t *testing.T, path, ref string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := map[string]string{
		"oci-layout": `{"imageLayoutVersion":"1.0.0"}`,
		"index.json": `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:00","size":1,"annotations":{"org.opencontainers.image.ref.name":"` + ref + `"}}]}`,
	}
	for _, name := range []string{"oci-layout", "index.json"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDistTwiceIsIdentical runs the whole of dist twice on a small case (a tiny
// program for two platforms, one tar.gz and one zip, the real chart, a stand-in image
// archive) and compares every byte: a release can be rebuilt and checked against its
// SHA256SUMS.
func TestDistTwiceIsIdentical(t *testing.T) {
	helm, version := helmBinary(t), repoVersion(t)
	tmp := t.TempDir()
	license := filepath.Join(tmp, "LICENSE")
	if err := os.WriteFile(license, []byte("Apache License\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(tmp, "kubeask-manager.oci.tar")
	writeImageArchive(t, image, "ghcr.io/kubeask/kubeask-manager:"+version)
	mtime := time.Date(2026, 11, 29, 2, 3, 54, 0, time.UTC)
	dist := func(out string) {
		t.Helper()
		o := &options{
			Version: version, Out: out,
			Platforms: []platform{{OS: "linux", Arch: "amd64"}, {OS: "windows", Arch: "arm64"}},
			Package:   "./testdata/hello", License: license,
			KrewTemplate: "testdata/ask-two-platforms.yaml",
			Chart:        "../../charts/kubeask", Helm: helm,
			Image: image, RequireImage: true,
			MTime: mtime.Unix(),
		}
		if err := o.validate(); err != nil {
			t.Fatal(err)
		}
		if err := o.run(t.Context(), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	}
	first, second := filepath.Join(tmp, "first"), filepath.Join(tmp, "second")
	dist(first)
	// Another time on the inputs' clocks must not matter; helm stamps the time of
	// packaging, a second later.
	if err := os.Chtimes(license, time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	dist(second)

	tag := "v" + version
	wantFiles := []string{
		"SHA256SUMS", "ask.yaml",
		"kubeask-" + version + ".tgz",
		"kubeask-manager-" + version + ".oci.tar",
		"kubectl-ask_" + tag + "_linux_amd64.tar.gz",
		"kubectl-ask_" + tag + "_windows_arm64.zip",
	}
	for _, name := range wantFiles {
		a, err := os.ReadFile(filepath.Join(first, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(second, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	if names, _ := filepath.Glob(filepath.Join(first, "*")); len(names) != len(wantFiles) {
		t.Errorf("dist wrote %v, want %v", names, wantFiles)
	}

	// SHA256SUMS covers every download, and says what sha256sum would.
	sums, err := os.ReadFile(filepath.Join(first, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, name := range wantFiles[2:] {
		sum, err := sha256File(filepath.Join(first, name))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, sum+"  "+name)
	}
	if got, want := string(sums), strings.Join(lines, "\n")+"\n"; got != want {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", got, want)
	}
	manifest, err := os.ReadFile(filepath.Join(first, "ask.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(manifest), lines[2][:64]) {
		t.Errorf("ask.yaml lacks the linux archive's sum:\n%s", manifest)
	}

	// Each archive holds the binary and the license, and the binary reports the
	// version it was stamped with.
	for name, bin := range map[string]string{wantFiles[4]: "kubectl-ask", wantFiles[5]: "kubectl-ask.exe"} {
		entries, _ := readArchive(t, filepath.Join(first, name))
		if len(entries) != 2 || entries[0].Name != "LICENSE" || entries[1].Name != bin || entries[1].Mode != 0o755 {
			t.Errorf("%s holds %v, want LICENSE and %s (0755)", name, entries, bin)
			continue
		}
		if bin != "kubectl-ask" || runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
			continue
		}
		exe := filepath.Join(tmp, bin)
		if err := os.WriteFile(exe, entries[1].Data, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(t.Context(), exe).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(out), "kubectl-ask "+version+"\n"; got != want {
			t.Errorf("the archived binary says %q, want %q: not stamped", got, want)
		}
	}
	_, times := readArchive(t, filepath.Join(first, wantFiles[2]))
	for _, tm := range times {
		if !tm.Equal(mtime) {
			t.Errorf("the chart archive has an entry of %s, want %s", tm, mtime)
		}
	}
}

func TestDistRefusesMismatchedVersions(t *testing.T) {
	version := repoVersion(t)
	tmp := t.TempDir()
	if err := checkChartVersion("../../charts/kubeask", version); err != nil {
		t.Errorf("the chart in the repository: %v", err)
	}
	err := checkChartVersion("../../charts/kubeask", "9.9.9")
	if err == nil || !strings.Contains(err.Error(), `a release of 9.9.9 needs both to be "9.9.9"`) {
		t.Errorf("chart of another version: error %v", err)
	}

	image := filepath.Join(tmp, "old.oci.tar")
	writeImageArchive(t, image, "ghcr.io/kubeask/kubeask-manager:0.0.1")
	o := &options{Version: version, Out: tmp, Image: image}
	if _, err := o.copyImage(); err == nil || !strings.Contains(err.Error(), "not version "+version) {
		t.Errorf("image of another version: error %v", err)
	}
	o.Image = filepath.Join(tmp, "missing.oci.tar")
	if name, err := o.copyImage(); name != "" || err != nil {
		t.Errorf("no image, none required: %q, %v", name, err)
	}
	o.RequireImage = true
	if _, err := o.copyImage(); err == nil {
		t.Error("no image, one required: no error")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		version string
		mtime   int64
		err     string
	}{
		{version: "0.1.0", mtime: minMTime},
		{version: "1.2.3-rc.1", mtime: minMTime},
		{version: "v0.1.0", mtime: minMTime, err: "not X.Y.Z"},
		{version: "0.1", mtime: minMTime, err: "not X.Y.Z"},
		{version: "0.1.0+build", mtime: minMTime, err: "not X.Y.Z"},
		{version: "0.1.0", mtime: 0, err: "before 1980"},
	} {
		o := &options{Version: tc.version, MTime: tc.mtime, Helm: "helm", Out: "dist"}
		err := o.validate()
		if (tc.err == "" && err != nil) || (tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err))) {
			t.Errorf("version %q mtime %d: error %v, want %q", tc.version, tc.mtime, err, tc.err)
		}
	}
}
