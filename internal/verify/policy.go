package verify

import (
	"crypto"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/sealsign/seal/internal/identity"
)

// Policy says what must hold for an image to pass.
type Policy struct {
	// Key verifies keyed signatures; Identity keyless ones (including the
	// triggers it refuses). Exactly one.
	Key      crypto.PublicKey
	Identity *identity.Identity
	// Trusted holds the Fulcio CAs, timestamp authorities and logs that
	// keyless signatures chain to.
	Trusted root.TrustedMaterial
	// RequireTlog asks for a transparency-log entry on keyless signatures.
	RequireTlog bool
	// RequireSignature asks for an image signature.
	RequireSignature bool
	// Attestations lists what must be attested: each entry is a predicate
	// type, or several separated by "|" when any of them will do.
	Attestations []string
	// Provenance, when set, is checked on every SLSA provenance attestation.
	Provenance *ProvenanceCheck
	// VSA is what a Verification Summary must say when Attestations
	// require one; its zero value asks for Seal's verifier only. A summary
	// found but not required gets only the checks every one gets.
	VSA VSACheck
	// Exhaustive verifies every storage format, even when the bundles alone
	// already satisfy the policy (the legacy tags are otherwise not read).
	Exhaustive bool
}

// ProvenanceCheck lists facts SLSA provenance must state. Every check but
// ProtectedRef also holds the signer's Fulcio certificate to the value
// where the certificate carries the fact; with a key there is no
// certificate, and the checks rest on the signer's own word.
type ProvenanceCheck struct {
	SourceRepo string // repository URL the provenance names as its source (Source Repository URI)
	SourceRef  string // ref it names (Source Repository Ref)
	BuilderID  string // runDetails.builder.id (v1) / builder.id (v0.2) (Build Signer URI)
	// ProtectedRef requires a GitLab provenance whose ref was protected.
	// No certificate carries that fact: it rests on the signer's own claim
	// (Seal's provenance copies the token's ref_protected claim, but any
	// job of the project can attest provenance it wrote by hand). The ref
	// the provenance calls protected must agree with the certificate's.
	ProtectedRef bool
}

// qualifyRef turns a bare branch name into refs/heads/NAME.
func qualifyRef(ref string) string {
	q, err := identity.QualifyRef(ref)
	if err != nil {
		return ref
	}
	return q
}
