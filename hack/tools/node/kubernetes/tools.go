//go:build tools

// Package tools pins the node commands that hack/build-node.sh builds from
// k8s.io/kubernetes: the kubelet, and kube-proxy so that pods reach the API server
// through the kubernetes Service's ClusterIP, as in any cluster.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
