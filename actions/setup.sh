#!/usr/bin/env bash
# Installs the seal binary for a step of Seal's GitHub Action (action.yml and actions/*/action.yml).
#
#   setup.sh plan      decide between the release pinned in actions/release.sha256 and a build
#                      from this checkout; writes the step outputs mode, version, dir, cache-key
#   setup.sh install   download and verify the release, or build from source, unless the binary
#                      is already in dir (tool cache, actions/cache); writes the output path and
#                      puts dir on PATH for the job's later steps
#
# A release binary is installed only when its sha256 is pinned in release.sha256 next to this
# script. The pins live in the action's own commit, so pinning the action (uses: ...@SHA) pins
# the binary: no tag move or replaced release asset can change what runs. Without pins (a commit
# that no release has been made from) the action builds seal from its own source with Go.
# Runs in bash on Linux, macOS and Windows (Git Bash) runners.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
pins=${SEAL_PINS:-$here/release.sha256}

fail() { echo "::error title=Seal setup::$*" >&2; exit 1; }

output() { # output NAME VALUE
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; else echo "$1=$2"; fi
}

runner_os() {
  case "${RUNNER_OS:-$(uname -s)}" in
    Linux) echo linux ;;
    macOS | Darwin) echo darwin ;;
    Windows | MINGW* | MSYS* | CYGWIN*) echo windows ;;
    *) fail "unsupported runner OS ${RUNNER_OS:-$(uname -s)}" ;;
  esac
}

runner_arch() {
  case "${RUNNER_ARCH:-$(uname -m)}" in
    X64 | x86_64 | amd64) echo amd64 ;;
    ARM64 | arm64 | aarch64) echo arm64 ;;
    *) fail "unsupported runner architecture ${RUNNER_ARCH:-$(uname -m)}" ;;
  esac
}

sha256() { # sha256 [FILE]: prints the digest of FILE or stdin
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@" | cut -d' ' -f1; else shasum -a 256 "$@" | cut -d' ' -f1; fi
}

# pinned_version prints the release version the pins name (seal_v1.2.3_linux_amd64 -> v1.2.3).
pinned_version() {
  [ -f "$pins" ] || return 0
  awk '!/^#/ && NF == 2 { print $2 }' "$pins" | sed -n 's/^seal_\(v[^_]*\)_.*/\1/p' | sort -u | head -n 1
}

# source_hash identifies the code a source build compiles: it keys the build cache.
source_hash() {
  (cd "$root" && find go.mod go.sum cmd internal -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs cat | sha256)
}

os=$(runner_os)
arch=$(runner_arch)
ext=
[ "$os" = windows ] && ext=.exe
cache=${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}

case "${1:-}" in
  plan)
    want=${SEAL_VERSION:-}
    pinned=$(pinned_version)
    if [ "$want" = source ] || { [ -z "$want" ] && [ -z "$pinned" ]; }; then
      h=$(source_hash)
      output mode source
      output version "source-${h:0:12}"
      output dir "$cache/seal/source-${h:0:12}/$os-$arch"
      output cache-key "seal-source-$h-$os-$arch"
    elif [ -z "$want" ] || [ "$want" = "$pinned" ]; then
      output mode release
      output version "$pinned"
      output dir "$cache/seal/$pinned/$os-$arch"
      output cache-key "seal-release-$pinned-$os-$arch"
    else
      fail "version $want is not pinned in this action (it pins ${pinned:-no release}): use the action at the $want tag, or version: source to build this commit"
    fi
    ;;
  install)
    : "${SEAL_MODE:?}" "${SEAL_DIR:?}" "${SEAL_BUILD_VERSION:?}"
    bin=$SEAL_DIR/seal$ext
    if [ -x "$bin" ]; then
      echo "seal $SEAL_BUILD_VERSION found in $SEAL_DIR" >&2
    elif [ "$SEAL_MODE" = release ]; then
      asset=seal_${SEAL_BUILD_VERSION}_${os}_${arch}${ext}
      want=$(awk -v a="$asset" '!/^#/ && NF == 2 && $2 == a { print $1 }' "$pins")
      [ -n "$want" ] || fail "no sha256 pinned for $asset in actions/release.sha256: this release has no $os/$arch binary (use version: source)"
      url=${GITHUB_SERVER_URL:-https://github.com}/${SEAL_REPOSITORY:-sealsign/seal}/releases/download/$SEAL_BUILD_VERSION/$asset
      mkdir -p "$SEAL_DIR"
      tmp=$SEAL_DIR/.download.$$
      echo "downloading $url" >&2
      curl -fsSL --retry 3 --proto '=https' -o "$tmp" "$url" || { rm -f "$tmp"; fail "downloading $url failed"; }
      got=$(sha256 "$tmp")
      if [ "$got" != "$want" ]; then
        rm -f "$tmp"
        fail "$asset has sha256 $got, but this action pins $want: refusing to run it"
      fi
      chmod +x "$tmp"
      mv "$tmp" "$bin"
    else
      command -v go >/dev/null 2>&1 || fail "building seal from source needs Go (actions/setup-go), which is not on PATH"
      echo "building seal from $root" >&2
      mkdir -p "$SEAL_DIR"
      (cd "$root" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
        -ldflags "-s -w -X github.com/sealsign/seal/internal/version.version=$SEAL_BUILD_VERSION" \
        -o "$bin" ./cmd/seal) || fail "go build ./cmd/seal failed"
    fi
    "$bin" version >&2
    path_dir=$SEAL_DIR
    if command -v cygpath >/dev/null 2>&1; then path_dir=$(cygpath -w "$SEAL_DIR"); fi
    if [ -n "${GITHUB_PATH:-}" ]; then echo "$path_dir" >>"$GITHUB_PATH"; fi
    output path "$bin"
    ;;
  *)
    echo "usage: setup.sh plan|install" >&2
    exit 2
    ;;
esac
