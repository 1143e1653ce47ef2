// Package verify checks an image's signatures and attestations, in either
// storage format (Sigstore bundles as OCI referrers, cosign's legacy
// .sig/.att tags), against a policy: who must have signed (a key, or a
// keyless identity with its Fulcio certificate extensions) and what must
// be attested. Every signature is checked by sigstore-go's verifier: a
// legacy layer is turned into the bundle that holds the same evidence
// (legacy.go), so both formats pass the same checks; a statement counts
// only if its subject is the image's digest. Provenance is cross-checked
// with the certificate that signed it, field by field. A verification can be
// summarized as a SLSA Verification Summary Attestation (vsa.go), which a
// promotion job signs; a required VSA counts only if it PASSED, is about
// this digest and says what the policy's VSACheck asks (Seal's verifier by
// default, a minimum level, a policy digest), the checks package policy
// writes for the admission engines.
package verify
