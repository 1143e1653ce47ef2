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
// A certificate's subject names the workflow or CI configuration file that
// ran, which other repositories can run too (a GitHub workflow that is
// `on: workflow_call`, a GitLab project's file taken as another's CI
// configuration): only the Source Repository URI extension, or GitHub's
// deprecated workflow-repository extension, says which repository ran.
// Each engine checks only part of a certificate: Kyverno's Cosign
// verifier and policy-controller's legacy path read GitHub's workflow
// extensions, and in the bundle format neither reads any extension. So
// Generate writes a preset identity's policy only where the engine checks
// the repository in the certificate (GitHub, legacy format) and refuses
// the rest, naming what to use instead; Seal's provenance cannot stand in
// for the certificate, being the signer's own claim. What the engine
// cannot check of a pinned repository's build (the runner, a protected
// ref) is checked in the provenance, and without the provenance
// attestation Generate refuses rather than emit a policy weaker than its
// flags. The triggers a GitHub preset refuses (Identity.RefuseTriggers)
// are checked in GitHub's workflow-trigger extension; the numeric
// repository and owner ids, in no extension an engine reads, are refused. Every policy starts with a comment saying in words what it admits;
// user strings reach it only printable, and the YAML encoder writes the
// policy itself.
//
// A policy can also admit an image on a signed SLSA Verification Summary
// alone (Spec.NoSignature with the vsa attestation): the signer is then
// the promotion job that ran `seal verify --vsa` and `seal attest --vsa`,
// and the policy checks in the summary what `seal verify --attestation
// vsa` checks with the same flags (verify.VSACheck, validated once for
// both): PASSED, no FAILED level, the verifier, and optionally a minimum
// SLSA Build level and the policy digest. Every engine checks the
// statement's subject against the image's digest itself, so a summary of
// another image is refused.
//
// The policies are checked against the real engines in the tests: Seal
// signs images on a loopback registry with a private Fulcio and timestamp
// authority, and policy-controller's own tester and Kyverno's CLI must
// admit exactly the images the right repository signed and attested; every
// policy is also validated against the engine's CRD schema.
package policy
