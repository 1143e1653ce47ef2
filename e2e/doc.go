// Package e2e holds Seal's end-to-end tests: the seal binary, real
// registries, a real Fulcio and timestamp authority, and the real cosign
// CLIs as verifiers. It has no code of its own outside tests.
package e2e
