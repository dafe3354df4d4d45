#!/usr/bin/env bash
# Runs controller-gen: deepcopy code, CRDs and the manager's RBAC role, all from markers.
# With no argument it writes into the tree (and copies the CRDs and admission policies
# into the Helm chart and config/); with a directory it writes there instead, which is
# how test/generated checks that the committed output is not stale.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
gen=${CONTROLLER_GEN:-$root/bin/controller-gen}
out=${1:-}
if [[ -z "$out" ]]; then
  obj=api/v1alpha1 crd=config/crd/bases rbac=config/rbac
else
  obj=$out/api/v1alpha1 crd=$out/config/crd/bases rbac=$out/config/rbac
fi
"$gen" \
  object paths=./api/... output:object:dir="$obj" \
  crd paths=./api/... output:crd:dir="$crd" \
  rbac:roleName=kubeask-manager paths=./internal/... output:rbac:dir="$rbac"
if [[ -z "$out" ]]; then
  mkdir -p charts/kubeask/crds
  rm -f charts/kubeask/crds/*.yaml
  cp config/crd/bases/*.yaml charts/kubeask/crds/
  for dir in charts/kubeask/files/policies config/admission; do
    if [[ -d "$dir" ]]; then
      cp internal/admission/policy/*.yaml "$dir"/
    fi
  done
fi
