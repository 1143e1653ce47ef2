// Package demo runs Seal's whole flow with nothing outside the process: an
// in-memory OCI registry on loopback, a small single-platform image and a
// multi-platform index pushed to it, local SLSA provenance, an ephemeral
// signing key, signatures and attestations in both registry formats, and
// verification of what was written. It is what `seal-demo` (cmd/seal-demo) shows, and the
// registry can stay up so that a user's own cosign can check the result.
package demo
