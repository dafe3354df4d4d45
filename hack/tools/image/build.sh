#!/usr/bin/env bash
# Builds the kubeask-manager image for linux/amd64 and linux/arm64 without a container
# daemon: static binaries from Go modules, assembled by the Go program next to this
# script into bin/image/kubeask-manager.oci.tar (an OCI image layout tar that `podman
# load` and `ctr images import` read) and bin/image/digest (the index digest).
#
# Reproducible: the same commit gives the same digest. Binaries are built with
# -trimpath (no paths of this machine), every timestamp is SOURCE_DATE_EPOCH (the
# commit's time unless set), and the CA roots come from a pinned Go module, not from
# this machine. A different Go toolchain may produce different binaries.
#
# Environment: K8S_VERSION (kubectl's version, v1.37.2), IMAGE_REPOSITORY, PLATFORMS,
# SOURCE_DATE_EPOCH and REVISION (both from git unless set).
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
version=$(<VERSION)
k8s_version=${K8S_VERSION:-v1.37.2}
repository=${IMAGE_REPOSITORY:-ghcr.io/kubeask/kubeask-manager}
platforms=${PLATFORMS:-linux/amd64,linux/arm64}
out=$root/bin/image

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi
if [[ -z ${REVISION:-} ]]; then
  REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  # A build from a work tree with changes is not the commit: say so in the label.
  if [[ $REVISION != unknown && -n $(git --no-optional-locks status --porcelain 2>/dev/null) ]]; then
    REVISION+=-dirty
  fi
fi

IFS=, read -ra plats <<<"$platforms"
for p in "${plats[@]}"; do
  os=${p%%/*} arch=${p#*/}
  payload=$out/payload/${os}_$arch
  mkdir -p "$payload"

  echo "building kubeask-manager $version for $p" >&2
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags="-s -w -X github.com/kubeask/kubeask/internal/version.Version=$version" \
    -o "$payload/kubeask-manager" ./cmd/kubeask-manager

  # kubectl takes minutes to build, so it is cached per version and platform. It is built
  # like hack/build-controlplane.sh's (same module, same version stamp), but static and
  # with -trimpath, since this one ships.
  kubectl=$out/kubectl/$k8s_version/${os}_$arch/kubectl
  if [[ ! -x $kubectl ]]; then
    echo "building kubectl $k8s_version for $p (once; cached in ${kubectl#"$root"/})" >&2
    minor=${k8s_version#v1.}; minor=${minor%%.*}
    pkg=k8s.io/component-base/version
    ldflags="-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    mkdir -p "$(dirname "$kubectl")"
    (cd hack/tools/controlplane &&
      CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags="$ldflags" -o "$kubectl.tmp" k8s.io/kubernetes/cmd/kubectl)
    mv "$kubectl.tmp" "$kubectl"
  fi
  cp "$kubectl" "$payload/kubectl"
done

cd hack/tools/image
go run . build \
  --payload "$out/payload" \
  --platforms "$platforms" \
  --repository "$repository" \
  --version "$version" \
  --revision "$REVISION" \
  --source-date-epoch "$SOURCE_DATE_EPOCH" \
  --out "$out/kubeask-manager.oci.tar" \
  --digest-file "$out/digest"
