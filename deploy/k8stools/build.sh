#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd for jetmesh's Kubernetes-mode tests
# into ${XDG_CACHE_HOME:-$HOME/.cache}/jetmesh/k8s-v1.37.1, unless they are there already.
# From the Go module proxy only; about 6 minutes on 2 cores the first time.
set -euo pipefail
cd "$(dirname "$0")"
version=v1.37.1
dir=${JETMESH_K8S_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/jetmesh/k8s-$version}
mkdir -p "$dir"
build() { # name package
  if [ -x "$dir/$1" ]; then return; fi
  echo "building $1 into $dir (first time only)"
  go build -trimpath -ldflags=-s -o "$dir/$1.tmp" "$2"
  mv "$dir/$1.tmp" "$dir/$1"
}
build etcd ./cmd/etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
echo "$dir"
