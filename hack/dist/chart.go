package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// checkChartVersion enforces docs/releasing.md: the chart is released with the
// binaries, so its version and appVersion (the image tag it installs) are the release's.
func checkChartVersion(chartDir, version string) error {
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	var meta struct {
		Version    string `json:"version"`
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("%s/Chart.yaml: %w", chartDir, err)
	}
	if meta.Version != version || meta.AppVersion != version {
		return fmt.Errorf("%s/Chart.yaml has version %q and appVersion %q; a release of %s needs both to be %q (docs/releasing.md)",
			chartDir, meta.Version, meta.AppVersion, version, version)
	}
	return nil
}

// packageChart packages the chart with `helm package` into o.Out and returns the
// archive's name (kubeask-X.Y.Z.tgz).
func packageChart(ctx context.Context, o *options, work string) (string, error) {
	tmp := filepath.Join(work, "chart")
	cmd := exec.CommandContext(ctx, o.Helm, "package", o.Chart, "-d", tmp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("helm package %s: %w\n%s", o.Chart, err, strings.TrimSpace(out.String()))
	}
	name := "kubeask-" + o.Version + ".tgz"
	raw, err := os.ReadFile(filepath.Join(tmp, name))
	if err != nil {
		return "", fmt.Errorf("helm package did not write %s: %w", name, err)
	}
	fixed, err := fixTimes(raw, o.mtime())
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return name, os.WriteFile(filepath.Join(o.Out, name), fixed, 0o644) //nolint:gosec // G306: a release file, published for everyone to read
}

// fixTimes rewrites a chart archive with every entry's time set to mtime: helm
// stamps each entry with the time of packaging, the one thing that differs between
// two packagings of the same chart. Entries, their order and the gzip header
// (helm's marker in Extra and Comment) are kept.
func fixTimes(tgz []byte, mtime time.Time) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Header = zr.Header
	zw.ModTime = time.Time{}
	tr, tw := tar.NewReader(zr), tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		h.ModTime, h.AccessTime, h.ChangeTime = mtime, time.Time{}, time.Time{}
		h.Format = tar.FormatUnknown // let the writer pick the least format again
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.CopyN(tw, tr, h.Size); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
