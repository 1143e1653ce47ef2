package options

import "github.com/spf13/pflag"

// VSACheck is what a required SLSA Verification Summary must say, the same
// for `seal verify` and `seal policy`: its verifier.id (default Seal's), a
// minimum SLSA Build level, and its policy.digest.
type VSACheck struct {
	VSAVerifier, VSALevel, VSAPolicyDigest string
}

// AddFlags registers the flags.
func (o *VSACheck) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.VSAVerifier, "vsa-verifier", "", "with --attestation vsa: the verifier.id the summary must name (default Seal's, https://github.com/sealsign/seal/verify)")
	fs.StringVar(&o.VSALevel, "vsa-level", "", "with --attestation vsa: the lowest SLSA Build level the summary must record, e.g. SLSA_BUILD_LEVEL_2 (higher levels up to SLSA_BUILD_LEVEL_3 pass)")
	fs.StringVar(&o.VSAPolicyDigest, "vsa-policy-digest", "", "with --attestation vsa: the policy.digest (sha256:HEX) the summary must record, i.e. the checks of the seal verify run it summarizes")
}

// Set reports whether any of the flags is given.
func (o VSACheck) Set() bool { return o != VSACheck{} }
