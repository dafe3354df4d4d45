package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	testEpoch   = 1700000000
	testVersion = "0.1.0"
	testRef     = "ghcr.io/kubeask/kubeask-manager:" + testVersion
)

// testPlatforms are the platforms of the test builds, in index order.
func testPlatforms() []string { return []string{"linux/amd64", "linux/arm64"} }

// fakePayload writes a small stand-in for the manager and kubectl of each platform,
// whose content names the platform, so the test can tell which binary landed where.
func fakePayload(t *testing.T, managerContent string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range testPlatforms() {
		sub := filepath.Join(dir, strings.ReplaceAll(p, "/", "_"))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{
			managerFile: managerContent + " " + p,
			kubectlFile: "kubectl " + p,
		} {
			if err := os.WriteFile(filepath.Join(sub, name), []byte(content), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// build runs `image build` as build.sh does and returns the archive and the digest file's content.
func build(t *testing.T, payload string) (archive, digest string) {
	t.Helper()
	out := t.TempDir()
	archive = filepath.Join(out, "kubeask-manager.oci.tar")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{
		"build",
		"--payload", payload,
		"--platforms", strings.Join(testPlatforms(), ","),
		"--version", testVersion,
		"--revision", "0123456789abcdef",
		"--source-date-epoch", "1700000000",
		"--out", archive,
		"--digest-file", filepath.Join(out, "digest"),
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("image build: %v\n%s", err, stderr.String())
	}
	d, err := os.ReadFile(filepath.Join(out, "digest"))
	if err != nil {
		t.Fatal(err)
	}
	digest = strings.TrimSpace(string(d))
	if !strings.Contains(stdout.String(), digest) || !strings.Contains(stdout.String(), "linux/arm64") {
		t.Errorf("the build's report lacks the digest or a platform:\n%s", stdout.String())
	}
	return archive, digest
}

// TestBuildIsReproducible builds the same payload twice, into different directories and
// with the payload's files touched and re-moded in between: the digest and the archive's
// bytes must not change. A different manager must change the digest.
func TestBuildIsReproducible(t *testing.T) {
	payload := fakePayload(t, "manager")
	archive1, digest1 := build(t, payload)

	later := time.Unix(testEpoch+86400, 0)
	err := filepath.WalkDir(payload, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := os.Chmod(path, 0o700); err != nil {
			return err
		}
		return os.Chtimes(path, later, later)
	})
	if err != nil {
		t.Fatal(err)
	}
	archive2, digest2 := build(t, payload)

	if !strings.HasPrefix(digest1, "sha256:") || digest1 != digest2 {
		t.Fatalf("two builds of the same payload: digests %q and %q", digest1, digest2)
	}
	a, b := readBytes(t, archive1), readBytes(t, archive2)
	if !bytes.Equal(a, b) {
		t.Fatalf("two builds of the same payload wrote different archives (%d and %d bytes)", len(a), len(b))
	}

	_, digest3 := build(t, fakePayload(t, "another manager"))
	if digest3 == digest1 {
		t.Fatalf("a different manager binary gave the same digest %s", digest1)
	}
}

func readBytes(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestArchiveNamesTheIndex checks what importers read: index.json names one OCI image
// index with the full reference in both naming annotations, and every tar entry of the
// archive has fixed metadata and comes in name order.
func TestArchiveNamesTheIndex(t *testing.T) {
	archive, digest := build(t, fakePayload(t, "manager"))
	if info, err := os.Stat(archive); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("archive mode: %v %v, want 0644 (other users' importers read it)", info, err)
	}

	entries := tarEntries(t, readBytes(t, archive))
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.hdr.Name
		if e.hdr.Uid != 0 || e.hdr.Gid != 0 || !e.hdr.ModTime.Equal(time.Unix(testEpoch, 0)) {
			t.Errorf("archive entry %s: uid %d gid %d mtime %s", e.hdr.Name, e.hdr.Uid, e.hdr.Gid, e.hdr.ModTime)
		}
	}
	if !slices.IsSorted(names) || !slices.Contains(names, "oci-layout") {
		t.Errorf("archive entries are not sorted or lack oci-layout: %v", names)
	}

	var index v1.IndexManifest
	if err := json.Unmarshal(entryData(t, entries, "index.json"), &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 {
		t.Fatalf("index.json has %d manifests, want the one index", len(index.Manifests))
	}
	top := index.Manifests[0]
	if top.MediaType != types.OCIImageIndex || top.Digest.String() != digest {
		t.Errorf("index.json names %s %s, want %s %s", top.MediaType, top.Digest, types.OCIImageIndex, digest)
	}
	for _, key := range []string{annotationRefName, annotationContainerdImage} {
		if top.Annotations[key] != testRef {
			t.Errorf("index.json annotation %s = %q, want %q", key, top.Annotations[key], testRef)
		}
	}
}

type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

func tarEntries(t *testing.T, archive []byte) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr: hdr, data: data})
	}
}

func entryData(t *testing.T, entries []tarEntry, name string) []byte {
	t.Helper()
	for _, e := range entries {
		if e.hdr.Name == name {
			return e.data
		}
	}
	t.Fatalf("no %s in the tar", name)
	return nil
}

// TestImageContents reads the archive back and checks each platform's image: its
// config (non-root user, entrypoint, labels, time) and its files: exactly the manager
// and kubectl of that platform, the CA roots and /tmp, all owned by root. No shell.
func TestImageContents(t *testing.T) {
	archive, _ := build(t, fakePayload(t, "manager"))
	idx, ref, err := readArchive(archive, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if ref != testRef {
		t.Errorf("ref %q, want %q", ref, testRef)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != len(testPlatforms()) {
		t.Fatalf("index has %d manifests, want %d", len(im.Manifests), len(testPlatforms()))
	}
	if im.Annotations["org.opencontainers.image.version"] != testVersion {
		t.Errorf("index annotations %v lack the version", im.Annotations)
	}
	for i, desc := range im.Manifests {
		platform := testPlatforms()[i]
		t.Run(platform, func(t *testing.T) {
			if desc.Platform == nil || desc.Platform.String() != platform || desc.MediaType != types.OCIManifestSchema1 {
				t.Fatalf("manifest %d: platform %v, media type %s", i, desc.Platform, desc.MediaType)
			}
			img, err := idx.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			checkConfig(t, img, platform)
			checkFiles(t, img, platform)
		})
	}
}

func checkConfig(t *testing.T, img v1.Image, platform string) {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.OS + "/" + cfg.Architecture; got != platform {
		t.Errorf("config platform %s", got)
	}
	c := cfg.Config
	if c.User != "65532:65532" || c.WorkingDir != "/" || !slices.Equal(c.Entrypoint, []string{"/kubeask-manager"}) || len(c.Cmd) != 0 {
		t.Errorf("config: user %q, workdir %q, entrypoint %q, cmd %q", c.User, c.WorkingDir, c.Entrypoint, c.Cmd)
	}
	want := map[string]string{
		"org.opencontainers.image.title":    "kubeask-manager",
		"org.opencontainers.image.source":   "https://github.com/kubeask/kubeask",
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": "0123456789abcdef",
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	for k, v := range want {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !cfg.Created.Equal(time.Unix(testEpoch, 0)) {
		t.Errorf("config created %s", cfg.Created.Time)
	}
	for _, h := range cfg.History {
		if !h.Created.Equal(time.Unix(testEpoch, 0)) {
			t.Errorf("history %q created %s", h.CreatedBy, h.Created.Time)
		}
	}
}

func checkFiles(t *testing.T, img v1.Image, platform string) {
	t.Helper()
	modes := map[string]int64{}
	for _, e := range layerEntries(t, img) {
		if _, dup := modes[e.hdr.Name]; dup {
			t.Errorf("/%s is in two layers", e.hdr.Name)
		}
		modes[e.hdr.Name] = e.hdr.Mode
		if e.hdr.Uid != 0 || e.hdr.Gid != 0 || !e.hdr.ModTime.Equal(time.Unix(testEpoch, 0)) {
			t.Errorf("%s: uid %d gid %d mtime %s", e.hdr.Name, e.hdr.Uid, e.hdr.Gid, e.hdr.ModTime)
		}
		switch e.hdr.Name {
		case managerFile, kubectlFile:
			if !strings.HasSuffix(string(e.data), " "+platform) {
				t.Errorf("/%s holds %q, not the %s binary", e.hdr.Name, e.data, platform)
			}
		case caFile:
			checkRoots(t, e.data)
		}
	}
	want := map[string]int64{
		"etc/": 0o755, "etc/ssl/": 0o755, "etc/ssl/certs/": 0o755, caFile: 0o644,
		"tmp/": 0o1777, kubectlFile: 0o755, managerFile: 0o755,
	}
	if len(modes) != len(want) {
		t.Errorf("files %v, want exactly %v", modes, want)
	}
	for name, mode := range want {
		if got, ok := modes[name]; !ok || got != mode {
			t.Errorf("/%s: mode %o (present %v), want %o", name, got, ok, mode)
		}
	}
}

// layerEntries are the tar entries of every layer of img, as stored (mutate.Extract
// would clean the names and hide the directory entries).
func layerEntries(t *testing.T, img v1.Image) []tarEntry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []tarEntry
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntries(t, data)...)
	}
	return out
}

// checkRoots parses the CA file as Go's crypto/tls will: every block a certificate.
func checkRoots(t *testing.T, data []byte) {
	t.Helper()
	n := 0
	for rest := data; ; n++ {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatalf("CA bundle certificate %d: %v", n, err)
		}
	}
	if n < 100 || !x509.NewCertPool().AppendCertsFromPEM(data) {
		t.Errorf("CA bundle has %d certificates, want the NSS roots (over 100)", n)
	}
}
