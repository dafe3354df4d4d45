package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// versionVar is the variable the linker stamps with the release's version.
const versionVar = "github.com/kubeask/kubeask/internal/version.Version"

// buildPlugin builds o.Package for p into dir and returns the binary's path. The build
// is static (CGO_ENABLED=0: the binary runs on any libc, and Go's resolver and TLS
// need none), free of local paths (-trimpath) and stripped (-s -w: a plugin does not
// need its symbol table, and it halves the download).
func buildPlugin(ctx context.Context, o *options, p platform, dir string) (string, error) {
	out := filepath.Join(dir, p.OS+"_"+p.Arch, "kubectl-ask"+p.exe())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X "+versionVar+"="+o.Version,
		"-o", out, o.Package)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s for %s: %w\n%s", o.Package, p, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// pluginArchive builds the plugin for p and writes its archive (the binary and the
// license) into o.Out, returning the archive's name.
func pluginArchive(ctx context.Context, o *options, p platform, work string, license []byte) (string, error) {
	bin, err := buildPlugin(ctx, o, p, work)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	name := p.archiveName("kubectl-ask", o.tag())
	entries := []entry{
		{Name: filepath.Base(bin), Mode: 0o755, Data: data},
		{Name: "LICENSE", Mode: 0o644, Data: license},
	}
	return name, writeArchive(filepath.Join(o.Out, name), entries, o.mtime())
}
