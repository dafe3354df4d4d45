package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// krewFile is the filled-in manifest's name: krew's index wants plugins/<name>.yaml.
const krewFile = "ask.yaml"

// run builds the release into o.Out.
func (o *options) run(ctx context.Context, log io.Writer) error {
	license, err := os.ReadFile(o.License)
	if err != nil {
		return fmt.Errorf("every archive carries the license: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil { //nolint:gosec // G301: the release directory, for everyone to read
		return err
	}
	work, err := os.MkdirTemp("", "kubeask-dist-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()

	// What can be refused is refused before minutes of builds: a chart or an image
	// of another version.
	if err := checkChartVersion(o.Chart, o.Version); err != nil {
		return err
	}
	image, err := o.copyImage()
	if err != nil {
		return err
	}

	var archives []string
	for _, p := range o.Platforms {
		fmt.Fprintf(log, "building kubectl-ask %s for %s\n", o.Version, p)
		name, err := pluginArchive(ctx, o, p, work, license)
		if err != nil {
			return err
		}
		archives = append(archives, name)
	}
	chart, err := packageChart(ctx, o, work)
	if err != nil {
		return err
	}
	assets := append(archives, chart)
	if image != "" {
		assets = append(assets, image)
	} else {
		fmt.Fprintf(log, "no image archive at %s (run make image): the release has none\n", o.Image)
	}

	sums, err := writeSums(o.Out, assets)
	if err != nil {
		return err
	}
	written := append(assets, sumsFile)
	if o.KrewTemplate != "" {
		if err := o.writeKrew(sums); err != nil {
			return err
		}
		written = append(written, krewFile)
	}
	for _, a := range written {
		fmt.Fprintf(log, "  %s/%s\n", o.Out, a)
	}
	return nil
}

// writeKrew fills in the krew manifest from the archives' sums and writes it after
// checking it.
func (o *options) writeKrew(sums map[string]string) error {
	tmpl, err := os.ReadFile(o.KrewTemplate)
	if err != nil {
		return err
	}
	manifest, err := renderKrew(tmpl, o.tag(), sums)
	if err != nil {
		return fmt.Errorf("%s: %w", o.KrewTemplate, err)
	}
	if err := validateKrew(manifest, o.tag(), o.Platforms, sums); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.Out, krewFile), manifest, 0o644) //nolint:gosec // G306: a release file, published for everyone to read
}

// copyImage copies the image archive into o.Out as kubeask-manager-X.Y.Z.oci.tar and
// returns that name, or "" when there is none and none is required.
func (o *options) copyImage() (string, error) {
	if o.Image == "" {
		if o.RequireImage {
			return "", errors.New("--require-image without --image")
		}
		return "", nil
	}
	src, err := os.Open(o.Image)
	if errors.Is(err, fs.ErrNotExist) && !o.RequireImage {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("the image archive (make image): %w", err)
	}
	defer func() { _ = src.Close() }()
	// An archive left in bin/ by an older checkout would ship the wrong manager.
	ref, err := imageRef(o.Image)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(ref, ":"+o.Version) {
		return "", fmt.Errorf("%s holds %q, not version %s: run make image again", o.Image, ref, o.Version)
	}
	name := "kubeask-manager-" + o.Version + ".oci.tar"
	dst, err := os.Create(filepath.Join(o.Out, name))
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return "", err
	}
	return name, dst.Close()
}
