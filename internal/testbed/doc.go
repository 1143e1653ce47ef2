// Package testbed starts real peers on loopback for other packages' tests: OCI registries
// (CNCF distribution without the referrers API, olareg with it, and go-containerregistry's
// in-process registry), an in-process OIDC issuer that mints GitHub- and GitLab-shaped tokens,
// a Fulcio CA that trusts that issuer, a timestamp authority, Rekor v1 and v2 transparency logs,
// a TUF repository for verifiers that take their trust only from TUF (Kyverno's
// SigstoreBundle), plus the trusted_root.json and signing_config.json that tie them together,
// and an AWS KMS emulator (local-kms) for awskms:// keys.
//
// Seal's claims about interoperability are only worth something if they are checked against the
// programs users run, so the peers are the real binaries, built by .ci/peers.sh into a cache
// (see Bin). Every Start function takes a testing.TB, binds 127.0.0.1 only, keeps its state and
// logs in t.TempDir(), stops its peer in t.Cleanup, and prints the tail of the peer's log when the
// test failed. A test whose peer binary is missing is skipped, unless SEAL_REQUIRE_PEERS=1 (set in
// CI), in which case it fails.
//
// There is no CT log in the testbed: Fulcio issues certificates without SCTs, so signers must
// skip SCT checks and verifiers must not require SCTs. Transparency logs are opt-in, through
// StartRekorV1 (rekor-server on an in-memory Trillian: signed entry timestamps and integrated
// times, as the public instance gives) or StartRekor (Rekor v2, rekor-tiles on local files: no
// integrated time, so the TSA's timestamps prove when a signature was made), and the
// ...WithRekor trust files.
//
// The package lives in non-test files so that other packages' tests can import it; production
// code must never import it.
package testbed
