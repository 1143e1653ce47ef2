#!/usr/bin/env bash
# Installs the seal binary for a step of Seal's GitHub Action (action.yml and actions/*/action.yml).
#
#   setup.sh plan      decide between the release pinned in actions/release.sha256 and a build
#                      from this checkout; writes the step outputs mode, version and, for a
#                      release, dir (where the tool cache keeps it); for a build, go: the
#                      version of the Go on PATH when it satisfies go.mod (empty otherwise, and
#                      the action installs one with actions/setup-go)
#   setup.sh install   put a binary checked on this use into a directory of this job's own:
#                      the release, taken from the tool cache only if its sha256 still matches
#                      the pin (else downloaded again and checked), or a build from source, done
#                      on every use; writes the output path and puts the directory on PATH for
#                      the job's later steps
#
# A release binary is installed only when its sha256 is pinned in release.sha256 next to this
# script. The pins live in the action's own commit, so pinning the action (uses: ...@SHA) pins
# the binary: no tag move or replaced release asset can change what runs. Without pins (a commit
# that no release has been made from) the action builds seal from its own source with Go.
#
# Nothing found in a cache is run unchecked: the tool cache of a self-hosted runner outlives
# jobs, and an actions/cache entry can be written by any job of the repository under a key it
# can predict, so a planted binary would run with the job's id-token: write. A cached release is
# copied into the job's directory and hashed there (what is hashed is what runs); a source build
# has nothing to check a cached binary against, so it is never cached (Go's build cache makes
# the rebuild take seconds).
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

# pinned_version prints the release version the pins name (seal_1.2.3_linux_amd64 -> 1.2.3; releases
# are tagged with semantic versions without a v, one tag for GitHub and the GitLab CI/CD Catalog).
pinned_version() {
  [ -f "$pins" ] || return 0
  awk '!/^#/ && NF == 2 { print $2 }' "$pins" | sed -n 's/^seal_\([^_][^_]*\)_.*/\1/p' | sort -u | head -n 1
}

# source_hash identifies the code a source build compiles: it names the build's version.
source_hash() {
  (cd "$root" && find go.mod go.sum cmd internal -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs cat | sha256)
}

# go_key prints a Go version (1.26.8, go1.26.8, 1.26, go1.27rc1, devel go1.27-abc) as digits
# that compare as strings in the order Go releases come (a release candidate before its release).
go_key() {
  awk -v v="$1" 'BEGIN {
    sub(/^devel /, "", v); sub(/^go/, "", v)
    pre = 999
    if (match(v, /(rc|beta)[0-9]+/)) {
      p = substr(v, RSTART, RLENGTH); v = substr(v, 1, RSTART - 1)
      pre = (p ~ /^rc/) ? 500 + substr(p, 3) : substr(p, 5)
    }
    n = split(v, a, ".")
    printf "%03d%03d%03d%03d\n", a[1], a[2], (n >= 3 ? a[3] : 0), pre
  }'
}

# usable_go prints the version of the Go on PATH if it builds this checkout as it is: at least
# go.mod's go and toolchain lines, so that neither actions/setup-go nor Go's toolchain switch
# has to fetch another. A Go the job already set up is used and left alone: the action does
# not change the Go of the job's later steps.
usable_go() {
  command -v go >/dev/null 2>&1 || return 0
  local have need
  have=$(cd / && GOTOOLCHAIN=local go env GOVERSION 2>/dev/null) || return 0
  while read -r need; do
    [[ "$(go_key "$have")" < "$(go_key "$need")" ]] && return 0
  done < <(awk '$1 == "go" || $1 == "toolchain" { print $2 }' "$root/go.mod")
  echo "$have"
}

# job_dir creates a directory only this job writes to (mode 0700, under the runner's per-job
# temporary directory) and prints it.
job_dir() {
  local tmp=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
  if command -v cygpath >/dev/null 2>&1; then tmp=$(cygpath -u "$tmp"); fi
  mkdir -p "$tmp"
  mktemp -d "$tmp/seal-bin.XXXXXX"
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
      output go "$(usable_go)"
    elif [ -z "$want" ] || [ "$want" = "$pinned" ]; then
      output mode release
      output version "$pinned"
      output dir "$cache/seal/$pinned/$os-$arch"
    else
      fail "version $want is not pinned in this action (it pins ${pinned:-no release}): use the action at the $want tag, or version: source to build this commit"
    fi
    ;;
  install)
    : "${SEAL_MODE:?}" "${SEAL_BUILD_VERSION:?}"
    dir=$(job_dir) || fail "cannot create a directory for the seal binary"
    bin=$dir/seal$ext
    if [ "$SEAL_MODE" = release ]; then
      : "${SEAL_DIR:?}"
      asset=seal_${SEAL_BUILD_VERSION}_${os}_${arch}${ext}
      want=$(awk -v a="$asset" '!/^#/ && NF == 2 && $2 == a { print $1 }' "$pins")
      [ -n "$want" ] || fail "no sha256 pinned for $asset in actions/release.sha256: this release has no $os/$arch binary (use version: source)"
      cached=$SEAL_DIR/seal$ext
      if [ -f "$cached" ] && cp "$cached" "$bin.part" 2>/dev/null; then
        got=$(sha256 "$bin.part")
        if [ "$got" = "$want" ]; then
          mv "$bin.part" "$bin"
          echo "seal $SEAL_BUILD_VERSION found in $SEAL_DIR, sha256 $got as pinned" >&2
        else
          rm -f "$bin.part"
          echo "::warning title=Seal setup::the cached $cached has sha256 $got, which does not match the pin $want: not running it; downloading the release again" >&2
        fi
      fi
      if [ ! -f "$bin" ]; then
        url=${GITHUB_SERVER_URL:-https://github.com}/${SEAL_REPOSITORY:-sealsign/seal}/releases/download/$SEAL_BUILD_VERSION/$asset
        echo "downloading $url" >&2
        curl -fsSL --retry 3 --proto '=https' -o "$bin.part" "$url" || { rm -f "$bin.part"; fail "downloading $url failed"; }
        got=$(sha256 "$bin.part")
        if [ "$got" != "$want" ]; then
          rm -f "$bin.part"
          fail "$asset has sha256 $got, but this action pins $want: refusing to run it"
        fi
        mv "$bin.part" "$bin"
        # Refresh the tool cache for later jobs, atomically; they check it again anyway.
        if mkdir -p "$SEAL_DIR" 2>/dev/null && cp "$bin" "$SEAL_DIR/.seal.$$" 2>/dev/null; then
          if ! { chmod +x "$SEAL_DIR/.seal.$$" && mv -f "$SEAL_DIR/.seal.$$" "$cached"; }; then rm -f "$SEAL_DIR/.seal.$$"; fi
        fi
      fi
    else
      command -v go >/dev/null 2>&1 || fail "building seal from source needs Go (actions/setup-go), which is not on PATH"
      echo "building seal from $root" >&2
      (cd "$root" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
        -ldflags "-s -w -X github.com/sealsign/seal/internal/version.version=$SEAL_BUILD_VERSION" \
        -o "$bin" ./cmd/seal) || fail "go build ./cmd/seal failed"
    fi
    chmod +x "$bin"
    "$bin" version >&2
    path_dir=$dir
    if command -v cygpath >/dev/null 2>&1; then path_dir=$(cygpath -w "$dir") && bin=$(cygpath -m "$bin"); fi
    if [ -n "${GITHUB_PATH:-}" ]; then echo "$path_dir" >>"$GITHUB_PATH"; fi
    output path "$bin"
    ;;
  *)
    echo "usage: setup.sh plan|install" >&2
    exit 2
    ;;
esac
