// Package version is the version of kubeask's binaries. Release builds stamp it with
// -ldflags "-X github.com/kubeask/kubeask/internal/version.Version=$(cat VERSION)"
// (make build, make image, make dist); a plain `go build` reports the module's build
// information instead.
package version

import "runtime/debug"

// Version is stamped at link time; empty in an unstamped build.
var Version string

// String is the version to report: the stamped one, else the main module's version
// from the build information ("(devel)" for a build from a work tree), else "unknown".
func String() string {
	if Version != "" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "unknown"
}
