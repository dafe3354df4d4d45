package main

import (
	"fmt"
	"strings"
)

// platform is one GOOS/GOARCH the plugin is built for.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// exe is the executable suffix of the platform.
func (p platform) exe() string {
	if p.OS == "windows" {
		return ".exe"
	}
	return ""
}

// archiveName is the name the krew manifest template gives the platform's archive:
// kubectl-ask_vX.Y.Z_os_arch.tar.gz, or .zip on Windows, where tar is not at hand.
func (p platform) archiveName(binary, tag string) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("%s_%s_%s_%s%s", binary, tag, p.OS, p.Arch, ext)
}

func parsePlatforms(s string) ([]platform, error) {
	var ps []platform
	seen := map[platform]bool{}
	for _, f := range strings.Split(s, ",") {
		osName, arch, ok := strings.Cut(strings.TrimSpace(f), "/")
		if !ok || osName == "" || arch == "" {
			return nil, fmt.Errorf("platform %q is not os/arch", f)
		}
		p := platform{OS: osName, Arch: arch}
		if seen[p] {
			return nil, fmt.Errorf("platform %s is listed twice", p)
		}
		seen[p] = true
		ps = append(ps, p)
	}
	return ps, nil
}
