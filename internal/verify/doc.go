// Package verify checks an image's signatures and attestations, in either
// storage format (Sigstore bundles as OCI referrers, cosign's legacy
// .sig/.att tags), against a policy: who must have signed (a key, or a
// keyless identity with its Fulcio certificate extensions) and what must
// be attested. Every signature is checked with sigstore-go or, for the
// legacy format, against the same rules cosign applies; a statement counts
// only if its subject is the image's digest.
package verify
