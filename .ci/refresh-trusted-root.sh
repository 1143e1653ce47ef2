#!/usr/bin/env bash
# Refreshes Seal's embedded public-good trusted_root.json from the newest github.com/sigstore/sigstore
# module (which ships the file as a TUF target). Usage: .ci/refresh-trusted-root.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
v=${1:-$(go list -m -versions github.com/sigstore/sigstore | tr ' ' '\n' | tail -1)}
dir=$(go mod download -json "github.com/sigstore/sigstore@$v" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
cp "$dir/pkg/tuf/repository/targets/trusted_root.json" internal/trust/public_trusted_root.json
chmod 644 internal/trust/public_trusted_root.json
echo "embedded trusted root refreshed from sigstore/sigstore $v"
