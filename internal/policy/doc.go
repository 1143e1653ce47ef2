// Package policy writes admission policies that admit only images Seal
// signed: a Kyverno ClusterPolicy with a verifyImages rule, or a sigstore
// policy-controller ClusterImagePolicy (with a TrustRoot for a private
// Sigstore instance), for either storage format Seal publishes in.
//
// The story starts with who must have signed. identity.FromGitHub and identity.FromGitLab
// turn "the CI of this repository" into the exact Fulcio certificate
// identity that CI gets (issuer, subject alternative name regexp, and the
// Fulcio extensions naming the source repository, ref and runner), and
// into what Seal's SLSA provenance records about that build. Package
// verify checks the same identity.Identity, so a policy and `seal verify` agree on
// what a preset means.
//
// Each engine can check only part of a certificate: Kyverno's Cosign
// verifier reads GitHub's workflow-repository extension, its SigstoreBundle
// verifier none; policy-controller checks issuer and subject, and in legacy
// format lets a CIP-level Rego policy see the GitHub extensions. Generate
// writes what the chosen engine can enforce and moves the rest into
// conditions on the provenance attestation, and when that attestation is
// not required it refuses, rather than emit a policy weaker than its flags.
// Every policy starts with a comment saying in words what it admits.
//
// The policies are checked against the real engines in the tests: Seal
// signs images on a loopback registry with a private Fulcio and timestamp
// authority, and policy-controller's own tester and Kyverno's CLI must
// admit exactly the images the right repository signed and attested; every
// policy is also validated against the engine's CRD schema.
package policy
