// Package provenance writes SLSA provenance for the artifacts a CI job
// built: an in-toto Statement v1 whose predicate is SLSA Provenance v1
// (https://slsa.dev/provenance/v1), or, for verifiers of the Tekton Chains
// era, SLSA v0.2.
//
// The build is described from ci.Metadata with a buildType per CI: GitHub
// Actions' own (https://actions.github.io/buildtypes/workflow/v1, with the
// fields actions/attest writes plus the ones the community spec adds),
// and Seal's documented GitLab CI and local buildTypes (docs/buildtypes/).
// Documents are built with the in-toto attestation Go types and validated
// before they are returned. Only named metadata fields are written; no
// environment value outside that allowlist, and no token, can reach a
// document.
package provenance
