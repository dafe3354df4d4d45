//go:build tools

// Package tools pins the containerd v2 commands that hack/build-node.sh builds: the
// daemon, the runc shim (which runs Debian's runc) and ctr (which imports images).
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
