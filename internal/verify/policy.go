package verify

import (
	"crypto"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/sealsign/seal/internal/identity"
)

// Policy says what must hold for an image to pass.
type Policy struct {
	// Key verifies keyed signatures; Identity keyless ones. Exactly one.
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
	// Exhaustive verifies every storage format, even when the bundles alone
	// already satisfy the policy (the legacy tags are otherwise not read).
	Exhaustive bool
}

// ProvenanceCheck lists facts SLSA provenance must state.
type ProvenanceCheck struct {
	SourceRepo string // repository URL the provenance names as its source
	SourceRef  string // ref it names
	BuilderID  string // runDetails.builder.id (v1) / builder.id (v0.2)
	// ProtectedRef requires a GitLab provenance whose ref was protected
	// (Fulcio certificates do not carry that fact; Seal's provenance does,
	// bound to the token's ref_protected claim).
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
