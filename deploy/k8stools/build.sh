#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from the Go module proxy into
# ${JETMESH_K8S_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jetmesh/k8s-v1.37.1}, where the
# Kubernetes-mode tests (services/k8s/k8stest) look for them. A binary already there that reports
# the right version is kept, so a warm cache costs nothing; a cold build takes about six minutes
# on two cores. Prints the directory last.
set -euo pipefail
cd "$(dirname "$0")"

k8s_version=v1.37.1
etcd_version=3.7.0
out=${JETMESH_K8S_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jetmesh/k8s-$k8s_version}
mkdir -p "$out"

# A Kubernetes release build stamps its version into component-base; without it the binaries
# call themselves v0.0.0-master, which clients and version checks take for a development build.
# -X only changes the link step, so the stamp costs no extra compilation.
v=k8s.io/component-base/version
k8s_ldflags="-s -w -X $v.gitMajor=1 -X $v.gitMinor=37 -X $v.gitVersion=$k8s_version -X $v.gitTreeState=clean"

build() { # name package want-in-version-output ldflags
  local name=$1 pkg=$2 want=$3 ldflags=$4
  # The version output is read whole first: grep -q stopping early would hand the binary a
  # SIGPIPE, which pipefail turns into a mismatch.
  local have=""
  [ -x "$out/$name" ] && have=$("$out/$name" --version 2>/dev/null || true)
  if grep -qF -- "$want" <<<"$have"; then
    echo "k8stools: $name present ($want)"
    return
  fi
  echo "k8stools: building $name ($want) from $pkg"
  local start=$SECONDS
  # A temporary name first, so an interrupted build never leaves a half-written binary behind
  # that the next run would take for a finished one.
  local tmp
  tmp=$(mktemp "$out/.$name.XXXXXX")
  go build -trimpath -ldflags="$ldflags" -o "$tmp" "$pkg"
  mv -f "$tmp" "$out/$name"
  echo "k8stools: built $name in $((SECONDS - start))s"
}

build etcd ./etcd "etcd Version: $etcd_version" "-s -w"
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "Kubernetes $k8s_version" "$k8s_ldflags"
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "Kubernetes $k8s_version" "$k8s_ldflags"
echo "$out"
