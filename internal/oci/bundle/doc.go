// Package bundle stores Sigstore bundles the way cosign v3 and GitHub's
// attest action do, and reads them back: each bundle is an OCI 1.1 referrer
// of the image, an artifact manifest (artifactType
// application/vnd.dev.sigstore.bundle.v0.3+json, the empty config, the
// bundle as its one layer) whose annotations say what the bundle holds (a
// DSSE envelope or a message signature, and its predicate type), so that
// verifiers choose without fetching (cosign specs/BUNDLE_SPEC.md).
//
// The registry work — the blobs, the manifests, the referrers API or the
// fallback index on registries without it — is package oci's; this package
// only builds the manifests and picks bundles out of a subject's referrers.
// Entries hands back a referrer that cannot be read as an entry with Err
// set, so that whoever can push one broken referrer cannot hide the valid
// ones from a verifier.
package bundle
