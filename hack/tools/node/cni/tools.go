//go:build tools

// Package tools pins the CNI plugins that hack/build-node.sh builds for the node's pod
// network: bridge and host-local give each pod an address on a bridge, loopback brings
// up lo in the pod, portmap serves hostPort.
package tools

import (
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
	_ "github.com/containernetworking/plugins/plugins/main/loopback"
	_ "github.com/containernetworking/plugins/plugins/meta/portmap"
)
