// Package components tests Seal's GitLab CI/CD Catalog components (templates/ at the
// repository root) the way GitLab runs them: gitlab-ci-local reads a pipeline that includes
// each component by `component: $CI_SERVER_FQDN/sealsign/seal/<name>@$CI_COMMIT_SHA` from a
// throwaway clone of this checkout, validates spec:inputs as GitLab does, and runs the jobs
// with the shell executor against real peers on loopback (a registry, Fulcio trusting a local
// OIDC issuer that mints GitLab-shaped id_tokens, a timestamp authority). The signatures and
// attestations the jobs leave behind are then checked with cosign, and the dotenv reports by
// a later job of the same pipeline.
//
// The tests need Node 22, gitlab-ci-local and rsync, which .ci/packaging.sh installs; plain
// `go test ./...` skips them when those are missing, unless SEAL_REQUIRE_GITLAB=1. The folder
// also holds examples/, pipelines users start from.
package components
