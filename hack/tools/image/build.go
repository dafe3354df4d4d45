package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// buildOptions are the flags of `image build`.
type buildOptions struct {
	// Payload holds <os>_<arch>/kubeask-manager and <os>_<arch>/kubectl per platform.
	Payload    string
	Platforms  string // comma-separated, e.g. linux/amd64,linux/arm64
	Out        string // the OCI layout tar
	DigestFile string // receives the index digest ("sha256:...")
	Repository string
	Version    string
	Revision   string
	Source     string
	// SourceDateEpoch is the time every timestamp of the image carries (seconds since
	// 1970): build.sh passes the commit's time, so rebuilding a commit changes nothing.
	SourceDateEpoch int64
}

func newBuildOptions() *buildOptions {
	return &buildOptions{
		Platforms:  "linux/amd64,linux/arm64",
		Repository: "ghcr.io/kubeask/kubeask-manager",
		Source:     "https://github.com/kubeask/kubeask",
	}
}

func (o *buildOptions) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Payload, "payload", o.Payload, "Directory with <os>_<arch>/kubeask-manager and <os>_<arch>/kubectl for each platform.")
	fs.StringVar(&o.Platforms, "platforms", o.Platforms, "Comma-separated platforms of the index, in this order.")
	fs.StringVar(&o.Out, "out", o.Out, "The OCI image layout tar to write.")
	fs.StringVar(&o.DigestFile, "digest-file", o.DigestFile, "File that receives the index digest; empty writes none.")
	fs.StringVar(&o.Repository, "repository", o.Repository, "Repository the archive names the image in (with --version as the tag).")
	fs.StringVar(&o.Version, "version", o.Version, "Version: the tag and org.opencontainers.image.version.")
	fs.StringVar(&o.Revision, "revision", o.Revision, "Source revision: org.opencontainers.image.revision.")
	fs.StringVar(&o.Source, "source", o.Source, "Source repository URL: org.opencontainers.image.source.")
	fs.Int64Var(&o.SourceDateEpoch, "source-date-epoch", o.SourceDateEpoch, "Timestamp of the image, its files and its history, in seconds since 1970 (reproducible builds).")
}

func (o *buildOptions) validate() error {
	var errs []error
	if o.Payload == "" || o.Out == "" {
		errs = append(errs, errors.New("--payload and --out are required"))
	}
	if o.Version == "" || o.Revision == "" || o.Repository == "" || o.Source == "" {
		errs = append(errs, errors.New("--version, --revision, --repository and --source must not be empty"))
	}
	if o.SourceDateEpoch < 0 {
		errs = append(errs, fmt.Errorf("--source-date-epoch %d is before 1970", o.SourceDateEpoch))
	}
	if _, err := parsePlatforms(o.Platforms); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func parsePlatforms(list string) ([]v1.Platform, error) {
	var out []v1.Platform
	for s := range strings.SplitSeq(list, ",") {
		p, err := v1.ParsePlatform(strings.TrimSpace(s))
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("--platforms: %q is not os/arch", s)
		}
		out = append(out, *p)
	}
	if len(out) == 0 {
		return nil, errors.New("--platforms is empty")
	}
	return out, nil
}

// run builds the index into --out and its digest into --digest-file, and prints the
// digest and each platform's size.
func (o *buildOptions) run(stdout io.Writer) error {
	platforms, err := parsePlatforms(o.Platforms)
	if err != nil {
		return err
	}
	spec := imageSpec{
		Repository: o.Repository,
		Version:    o.Version,
		Revision:   o.Revision,
		Source:     o.Source,
		Created:    time.Unix(o.SourceDateEpoch, 0).UTC(),
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return err
	}
	// Layer files go next to the output (same disk as bin/, not a small /tmp).
	work, err := os.MkdirTemp(filepath.Dir(o.Out), ".layers-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()

	idx, sizes, err := buildIndex(spec, platforms, o.Payload, work)
	if err != nil {
		return err
	}
	if err := writeArchive(o.Out, idx, spec.ref(), spec.Created); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	if o.DigestFile != "" {
		if err := os.WriteFile(o.DigestFile, []byte(digest.String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s\n  index %s\n  archive %s\n", spec.ref(), digest, o.Out)
	for _, s := range sizes {
		fmt.Fprintf(stdout, "  %-12s %s  compressed %s, uncompressed %s\n",
			s.Platform.String(), s.Digest, mebibytes(s.Compressed), mebibytes(s.Uncompressed))
	}
	return nil
}

func mebibytes(n int64) string {
	return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
}
