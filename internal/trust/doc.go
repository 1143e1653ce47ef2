// Package trust holds the Sigstore trust roots Seal verifies against: the
// public-good instance's trusted_root.json, embedded so that verification
// works offline, and loading of a private instance's root from a file.
//
// Refresh the embedded root with .ci/refresh-trusted-root.sh, which takes
// the trusted_root.json that sigstore/sigstore ships as a TUF target (the
// same file the public TUF repository serves) from a newer module version.
package trust
