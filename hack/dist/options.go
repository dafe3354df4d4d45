package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// options of dist. Paths are relative to the working directory (the repository root
// under make).
type options struct {
	// Version is X.Y.Z (the VERSION file); the release's tag is vX.Y.Z.
	Version string
	// Out receives the release; it is created if missing.
	Out string
	// Platforms to build kubectl-ask for, as os/arch.
	Platforms []platform
	// Package is the Go package of the plugin; tests build a smaller one.
	Package string
	// License is put into every archive (krew wants the license in each).
	License string
	// KrewTemplate is the krew manifest with krew-release-bot's placeholders; empty
	// writes no manifest (a build of some platforms only cannot fill it in).
	KrewTemplate string
	// Chart is the Helm chart directory; Helm is the helm binary that packages it.
	Chart, Helm string
	// Image is the manager's image archive from `make image`; copied when present,
	// and required when RequireImage is set.
	Image        string
	RequireImage bool
	// MTime is every archive entry's modification time (SOURCE_DATE_EPOCH).
	MTime int64
}

// allPlatforms are the platforms of a release: kubectl's own, less 32-bit ones.
const allPlatforms = "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64"

func newOptions() *options {
	return &options{
		Package:      "./cmd/kubectl-ask",
		License:      "LICENSE",
		KrewTemplate: "plugins/krew/ask.yaml",
		Chart:        "charts/kubeask",
		Out:          "dist",
	}
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Version, "version", o.Version, "Release version X.Y.Z; default the VERSION file.")
	fs.StringVar(&o.Out, "out", o.Out, "Directory the release is written to.")
	fs.Func("platforms", "Comma-separated os/arch list to build kubectl-ask for (default "+allPlatforms+").", func(s string) error {
		p, err := parsePlatforms(s)
		o.Platforms = p
		return err
	})
	fs.StringVar(&o.Package, "package", o.Package, "Go package of the plugin.")
	fs.StringVar(&o.License, "license", o.License, "License file put into each archive.")
	fs.StringVar(&o.KrewTemplate, "krew-template", o.KrewTemplate, "krew manifest template (krew-release-bot syntax); empty writes none.")
	fs.StringVar(&o.Chart, "chart", o.Chart, "Helm chart directory.")
	fs.StringVar(&o.Helm, "helm", o.Helm, "helm binary (make builds bin/helm).")
	fs.StringVar(&o.Image, "image", o.Image, "The manager's image archive (make image); copied when present.")
	fs.BoolVar(&o.RequireImage, "require-image", o.RequireImage, "Fail when --image does not exist.")
	fs.Int64Var(&o.MTime, "mtime", o.MTime, "Unix time of every archive entry; default $SOURCE_DATE_EPOCH.")
}

// complete fills the version from the VERSION file and the time from the environment.
func (o *options) complete() error {
	if o.Version == "" {
		b, err := os.ReadFile("VERSION")
		if err != nil {
			return fmt.Errorf("no --version and no VERSION file: %w", err)
		}
		o.Version = strings.TrimSpace(string(b))
	}
	if len(o.Platforms) == 0 {
		p, err := parsePlatforms(allPlatforms)
		if err != nil {
			return err
		}
		o.Platforms = p
	}
	if o.MTime == 0 {
		if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
			if _, err := fmt.Sscan(s, &o.MTime); err != nil {
				return fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a Unix time: %w", s, err)
			}
		}
	}
	return nil
}

// semverPattern is what docs/releasing.md allows: X.Y.Z with an optional pre-release,
// no "v" (the tag adds it) and no build metadata (a "+" is not valid in an image tag).
const semverPattern = `^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`

// minMTime is the earliest time a zip entry can hold (MS-DOS dates start in 1980):
// 1980-01-01T00:00:00Z.
const minMTime = 315532800

func (o *options) validate() error {
	var errs []error
	if !regexp.MustCompile(semverPattern).MatchString(o.Version) {
		errs = append(errs, fmt.Errorf("version %q is not X.Y.Z[-pre-release] (see docs/releasing.md)", o.Version))
	}
	if o.MTime < minMTime {
		errs = append(errs, fmt.Errorf("--mtime (or SOURCE_DATE_EPOCH) %d is unset or before 1980, which zip cannot store: make dist passes the last commit's time", o.MTime))
	}
	if o.Helm == "" {
		errs = append(errs, errors.New("--helm is required (make dist passes bin/helm)"))
	}
	if o.Out == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	return errors.Join(errs...)
}

// tag is the release's git tag and krew version.
func (o *options) tag() string { return "v" + o.Version }

func (o *options) mtime() time.Time { return time.Unix(o.MTime, 0).UTC() }
