// Package publish is the pipeline behind `seal sign` and `seal attest`:
// it pins an image to its digest (once), walks an index's platforms when
// asked, builds the statements to sign, signs them with one Signer, and
// hands the results to the registry in the formats asked for — Sigstore
// bundles as OCI referrers, cosign's legacy .sig/.att tags, or both.
//
// Subjects are processed in parallel with bounded concurrency; the writes
// for one subject are batched so that one tag is updated once per run.
package publish
