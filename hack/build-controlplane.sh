#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) and kubectl (which the kubectl tool runs) from Go modules into
# bin/k8s/<version>/, skipping binaries that are already there. No prebuilt binary can
# be downloaded on these machines, so tests and `make dev` use what this builds. A cold
# build takes about 5 minutes on 2 cores.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=${K8S_VERSION:-v1.37.2}
out="$root/bin/k8s/$version"
mkdir -p "$out"

declare -A pkgs=(
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
  [kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
  [etcd]=./etcd
)
missing=()
for bin in "${!pkgs[@]}"; do
  [[ -x "$out/$bin" ]] || missing+=("${pkgs[$bin]}")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "building control plane $version into $out: ${missing[*]}" >&2
cd "$root/hack/tools/controlplane"
# Stamp the version a release build would carry, so that /version and discovery report
# it (module builds otherwise say v0.0.0). No debug info: the binaries are never shipped.
minor=${version#v1.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
go build -ldflags="$ldflags" -o "$out/" "${missing[@]}"
