// Package predicate reads the documents users attest — SPDX and CycloneDX
// SBOMs, Trivy and Grype scan reports, any custom JSON — names their
// predicate type (from cosign's short names, a full URI, or the document
// itself), validates them, and wraps scan reports in cosign's
// vulnerability predicate so that policies written for cosign keep working.
// It is the one home of the predicate and payload types the other packages
// write and check.
package predicate
