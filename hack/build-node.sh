#!/usr/bin/env bash
# Builds the parts of a real node for `make e2e` from Go modules into bin/node/, skipping
# what is already there: the kubelet and kube-proxy (k8s.io/kubernetes, the control
# plane's version), containerd v2 with its runc shim and ctr, the CNI plugins bridge,
# host-local, loopback and portmap, and the pause binary of the sandbox image. runc itself
# is Debian's (apt-get install runc): it is the one runtime that works on these
# machines' hybrid cgroups. The pinned versions live in hack/tools/node/*/go.mod.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=${K8S_VERSION:-v1.37.2}
out="$root/bin/node"
mkdir -p "$out/cni"
tools="$root/hack/tools/node"

# build DIR OUTDIR [go build flags...] -- PKG... builds the packages whose binaries are
# missing from OUTDIR, in the module at DIR.
build() {
  local dir=$1 dest=$2; shift 2
  local flags=() pkgs=() missing=()
  while (($#)) && [[ $1 != -- ]]; do flags+=("$1"); shift; done
  shift
  pkgs=("$@")
  for p in "${pkgs[@]}"; do
    [[ -x "$dest/$(basename "$p")" ]] || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "building into $dest: ${missing[*]}" >&2
  local start=$SECONDS
  (cd "$dir" && go build "${flags[@]}" -o "$dest/" "${missing[@]}")
  echo "built in $((SECONDS - start))s" >&2
}

# Stamp the version as hack/build-controlplane.sh does: the kubelet reports it in the
# Node's status, and the API server's version skew checks read it.
minor=${version#v1.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
k8s_ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
build "$tools/kubernetes" "$out" -trimpath "-ldflags=$k8s_ldflags" -- \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy

# Static, and without the snapshotters that need cgo or kernel features absent here: the
# node uses the native snapshotter (plain copies; no overlay mounts inside a container).
CGO_ENABLED=0 build "$tools/containerd" "$out" -trimpath -ldflags=-s\ -w "-tags=no_btrfs no_devmapper no_zfs" -- \
  github.com/containerd/containerd/v2/cmd/containerd \
  github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
  github.com/containerd/containerd/v2/cmd/ctr

CGO_ENABLED=0 build "$tools/cni" "$out/cni" -trimpath -ldflags=-s\ -w -- \
  github.com/containernetworking/plugins/plugins/main/bridge \
  github.com/containernetworking/plugins/plugins/ipam/host-local \
  github.com/containernetworking/plugins/plugins/main/loopback \
  github.com/containernetworking/plugins/plugins/meta/portmap

# The sandbox image's only file; hack/e2e packs it into an OCI archive and imports it.
(cd "$root" && CGO_ENABLED=0 build "$root" "$out" -trimpath -ldflags=-s\ -w -- ./hack/e2e/pause)
