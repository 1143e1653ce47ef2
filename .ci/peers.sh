#!/usr/bin/env bash
# Installs the real peers Seal's tests run against (registries, cosign v2/v3, Fulcio, TSA, Rekor v1/v2) into a
# cache directory, building each from the Go module proxy only when it is missing. Idempotent.
# Usage: .ci/peers.sh [DIR]   (default: $SEAL_PEERS or ~/.cache/seal-peers). Prints the bin dir.
set -euo pipefail
dir=${1:-${SEAL_PEERS:-$HOME/.cache/seal-peers}}
bin=$dir/bin
mkdir -p "$bin" "$dir/src"
export GOFLAGS=-buildvcs=false CGO_ENABLED=0
# One build at a time: tests build missing peers on first use (internal/testbed takes this lock
# and says so in SEAL_PEERS_LOCK_HELD), and two builds of one peer would write the same file.
if [ "${SEAL_PEERS_LOCK_HELD:-}" != 1 ] && command -v flock >/dev/null 2>&1; then
  exec 9>"$bin/.build.lock"
  flock 9
fi

gi() { # gi NAME MODULE@VERSION [subdir-of-GOBIN]
  local name=$1 mod=$2 sub=${3:-}
  local out=$bin${sub:+/$sub}
  [ -x "$out/$name" ] && return 0
  mkdir -p "$out"
  echo "peers: building $name from $mod" >&2
  GOBIN=$out go install -trimpath -ldflags=-s "$mod" >&2
}

# built in a throwaway module because `go install` refuses modules with replace directives
tmpmod() { # tmpmod NAME PKG "MODULES..."
  local name=$1 pkg=$2; shift 2
  [ -x "$bin/$name" ] && return 0
  echo "peers: building $name from $pkg" >&2
  local t; t=$(mktemp -d)
  (cd "$t" && go mod init peers.local/$name >/dev/null 2>&1 && go get "$@" >&2 && go build -trimpath -ldflags=-s -o "$bin/$name" "$pkg" >&2)
  rm -rf "$t"
}

gi registry github.com/distribution/distribution/v3/cmd/registry@v3.1.2
tmpmod olareg github.com/olareg/olareg/cmd/olareg github.com/olareg/olareg@v0.1.2 github.com/spf13/cobra@v1.8.1
gi cosign github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
gi cosign github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3 v3
gi fulcio github.com/sigstore/fulcio@v1.8.8
gi timestamp-server github.com/sigstore/timestamp-authority/cmd/timestamp-server@v1.2.9

# Modules whose go.mod has replace directives (policy-controller, Kyverno): neither `go install`
# nor a throwaway module works; build inside a writable copy of the downloaded module instead.
# An optional sed script patches one file of the copy first; it must change the file.
pcmod() { # pcmod NAME MODULE@VERSION PKG [FILE SED-SCRIPT]
  local name=$1 mod=$2 pkg=$3 file=${4:-} patch=${5:-}
  [ -x "$bin/$name" ] && return 0
  echo "peers: building $name from $mod" >&2
  local src t
  # outside any module, so that no go.mod or go.sum is touched
  src=$(cd / && go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "peers: go mod download $mod gave no directory" >&2; return 1; }
  t=$(mktemp -d)
  cp -r "$src/." "$t/" && chmod -R u+w "$t"
  if [ -n "$file" ]; then
    sed -i "$patch" "$t/$file"
    if cmp -s "$src/$file" "$t/$file"; then
      echo "peers: the patch of $file no longer applies to $mod" >&2
      rm -rf "$t"
      return 1
    fi
  fi
  (cd "$t" && go build -trimpath -ldflags=-s -o "$bin/$name" "$pkg" >&2)
  rm -rf "$t"
}
pcmod tester github.com/sigstore/policy-controller@v0.13.1 ./cmd/tester
# The 0.15 line beside it (the proxy serves v0.15.1, not v0.15.0 or v0.15.2). Its go.mod pins
# go-containerregistry's k8schain and authn/kubernetes at a pseudo-version the proxy does not serve;
# the patch takes v0.13.1's, and -mod=mod lets go record their checksums (from the checksum database).
GOFLAGS="$GOFLAGS -mod=mod" pcmod tester-v15 github.com/sigstore/policy-controller@v0.15.1 ./cmd/tester \
  go.mod 's/v0.0.0-20260317232201-3888fb8f8738/v0.0.0-20230919002926-dbcd01c402b2/'
# Kyverno's CLI applies verifyImages rules against a registry offline (about 13 minutes to build).
pcmod kyverno github.com/kyverno/kyverno@v1.19.1 ./cmd/cli/kubectl-kyverno

# Flux's own cosign verifier (source-controller's internal/oci/cosign, what an OCIRepository's
# spec.verify runs), behind a small main built inside a copy of the module: the package is
# internal, and the module zip lacks the ./api directory its go.mod replaces (the proxy's api
# module of the same version stands in).
fluxverify() { # fluxverify NAME MODULE@VERSION
  local name=$1 mod=$2
  [ -x "$bin/$name" ] && return 0
  echo "peers: building $name from $mod" >&2
  local src t
  src=$(cd / && go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "peers: go mod download $mod gave no directory" >&2; return 1; }
  t=$(mktemp -d)
  cp -r "$src/." "$t/" && chmod -R u+w "$t"
  sed -i '/^replace github.com\/fluxcd\/source-controller\/api => .\/api$/d' "$t/go.mod"
  local ci
  ci=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  mkdir -p "$t/cmd/seal-flux-verify" && sed '/^\/\/go:build ignore$/d' "$ci/flux-verify/main.go" > "$t/cmd/seal-flux-verify/main.go"
  (cd "$t" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags=-s -o "$bin/$name" ./cmd/seal-flux-verify >&2)
  rm -rf "$t"
}
fluxverify flux-verify github.com/fluxcd/source-controller@v1.8.5

# admission controllers' CRDs, for schema tests of the policies `seal policy` writes
crd() { # crd MODULE@VERSION PATH-IN-MODULE
  local out=$dir/crds/${1%%@*}@${1##*@}/$2
  [ -f "$out" ] && return 0
  local src
  src=$(cd / && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "peers: go mod download $1 gave no directory" >&2; return 1; }
  mkdir -p "$(dirname "$out")" && cp "$src/$2" "$out" && chmod u+w "$out"
}
crd github.com/kyverno/kyverno@v1.19.1 config/crds/kyverno/kyverno.io_clusterpolicies.yaml
crd github.com/kyverno/kyverno@v1.19.1 config/crds/policies.kyverno.io/policies.kyverno.io_imagevalidatingpolicies.yaml
crd github.com/sigstore/policy-controller@v0.13.1 config/300-clusterimagepolicy.yaml
crd github.com/sigstore/policy-controller@v0.13.1 config/300-trustroot.yaml
crd github.com/sigstore/policy-controller@v0.15.1 config/300-clusterimagepolicy.yaml
crd github.com/sigstore/policy-controller@v0.15.1 config/300-trustroot.yaml
# Flux's OCIRepository (spec.verify), for seal policy flux; v1.8.5 is Flux 2.8's source-controller
crd github.com/fluxcd/source-controller@v1.8.5 config/crd/bases/source.toolkit.fluxcd.io_ocirepositories.yaml
tmpmod gh github.com/cli/cli/v2/cmd/gh github.com/cli/cli/v2/cmd/gh@v2.83.1
# nektos/act runs the repository's workflows and the action itself, in host mode (no Docker).
gi act github.com/nektos/act@v0.2.89
# Rekor v2 (tile-backed transparency log) on a local directory; v2.4.x needs go 1.27
pcmod rekor-server-v2 github.com/sigstore/rekor-tiles/v2@v2.3.0 ./cmd/rekor-server/posix

# Rekor v1 (what rekor.sigstore.dev serves: signed entry timestamps, integrated times) needs a
# Trillian log server. Instead of Trillian's MySQL-backed servers, trillian-memory (source in
# .ci/trillian-memory) runs log server, admin server and sequencer in one process on in-memory
# storage. Like every peer here it is built once: delete the binary after changing its source.
srcmod() { # srcmod NAME DIR MODULES...   (DIR holds a package main kept in this repository)
  local name=$1 src=$2; shift 2
  [ -x "$bin/$name" ] && return 0
  echo "peers: building $name from $src" >&2
  local t; t=$(mktemp -d)
  cp "$src"/*.go "$t/"
  (cd "$t" && go mod init peers.local/$name >/dev/null 2>&1 && go get "$@" >&2 && go mod tidy >&2 &&
    go build -trimpath -ldflags=-s -o "$bin/$name" . >&2)
  rm -rf "$t"
}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srcmod trillian-memory "$here/trillian-memory" github.com/google/trillian@v1.7.3
# rekor-server binds its metrics listener on :2112, on every interface, with no flag to move it (it
# ignores a failure to bind): it would take the port the timestamp authority cannot do without, so
# the one patch moves it to an ephemeral loopback port.
pcmod rekor-server-v1 github.com/sigstore/rekor@v1.5.3 ./cmd/rekor-server \
  cmd/rekor-server/app/serve.go 's/Addr:\( *\)":2112",/Addr:\1"127.0.0.1:0",/'
# An AWS KMS that is not Seal's fake (local-kms, KMS's JSON API over leveldb, keys made by
# CreateKey): internal/awskms's tests run the AWS SDK's KMS client against it. The patch binds it
# to loopback instead of every interface.
pcmod local-kms github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6 . \
  src/server.go 's/addr := ":"+port/addr := "127.0.0.1:"+port/; s/started on 0.0.0.0:/started on 127.0.0.1:/'
echo "$bin"
