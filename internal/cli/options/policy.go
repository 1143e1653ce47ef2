package options

import "github.com/spf13/pflag"

// Policy configures `seal policy`.
type Policy struct {
	// Identity says who must have signed: the flags `seal verify` takes.
	Identity
	// Images are globs of the image references the policy governs.
	Images []string
	// Attestations are predicate types that must be attested too.
	Attestations []string
	// NoSignature admits on a SLSA Verification Summary alone, without
	// an image signature.
	NoSignature bool
	// Promotion admits on the summary seal promote signed: --no-signature --attestation
	// vsa, in a format the engine checks the signer in.
	Promotion bool
	// VSACheck is what the Verification Summary must say.
	VSACheck
	// Format is where signatures are looked for: bundle or legacy.
	Format string
	// TrustedRoot is a private Sigstore instance's trusted_root.json.
	TrustedRoot string
	// RekorURL is the transparency log to require entries in.
	RekorURL string
	// NoTlog accepts signatures without a transparency-log entry.
	NoTlog bool
	// Kind is the Kyverno policy kind: imagevalidatingpolicy or
	// clusterpolicy.
	Kind string
	// TUFMirror and TUFRoot (a root.json file) are the TUF repository a
	// Kyverno ImageValidatingPolicy initialises its Sigstore client from.
	TUFMirror string
	TUFRoot   string
	// Name is the policy's metadata.name.
	Name string
	// Output is the file to write ("-" or empty: stdout).
	Output string
	Timeout
}

// AddFlags registers the flags.
func (o *Policy) AddFlags(fs *pflag.FlagSet) {
	o.Identity.AddFlags(fs)
	fs.StringArrayVar(&o.Images, "image", nil, "glob of the images the policy governs, e.g. 'ghcr.io/acme/app**' (* within a path segment, ** across; repeatable)")
	fs.StringArrayVar(&o.Attestations, "attestation", nil, "also require an attestation: slsaprovenance (SLSA v1, as Seal writes it), spdx, cyclonedx, vuln, vsa (a PASSED SLSA Verification Summary from Seal) or a predicate type URI (repeatable)")
	fs.BoolVar(&o.NoSignature, "no-signature", false, "admit on a SLSA Verification Summary alone (with --attestation vsa), as seal verify --no-signature --attestation vsa does: the identity or key is the promotion job's that attested it")
	fs.BoolVar(&o.Promotion, "promotion", false, "admit on the verification summary seal promote signed, by the promotion signer (--key, or its keyless job): --no-signature --attestation vsa, in a format the engine can check that signer in (policy-controller with a key: legacy, said in the header)")
	o.VSACheck.AddFlags(fs)
	fs.StringVar(&o.Format, "format", "legacy", "where the engine looks for signatures: legacy (cosign's .sig/.att tags, where the engines can check which GitHub repository signed) or bundle (Sigstore bundles as OCI referrers: raw identities and keys only)")
	fs.StringVar(&o.TrustedRoot, "trusted-root", "", "trusted_root.json of a private Sigstore instance (policy-controller: also writes a TrustRoot)")
	fs.StringVar(&o.RekorURL, "rekor-url", "", "transparency log to require entries in (default: the trusted root's, else the public instance)")
	fs.BoolVar(&o.NoTlog, "no-tlog", false, "accept signatures without a transparency-log entry, as Seal signs for private repositories (keyless: a timestamp is required)")
	fs.StringVar(&o.Kind, "kind", "imagevalidatingpolicy", "kyverno: the policy kind, imagevalidatingpolicy (CEL, Kyverno 1.17+: raw identities and keys only, since it cannot check which repository signed) or clusterpolicy (deprecated in Kyverno 1.17; checks GitHub's workflow-repository extension in --format legacy)")
	fs.StringVar(&o.TUFMirror, "tuf-mirror", "", "kyverno imagevalidatingpolicy: the TUF repository Kyverno initialises Sigstore from, for a private instance (default: the public one)")
	fs.StringVar(&o.TUFRoot, "tuf-root", "", "kyverno imagevalidatingpolicy: the root.json of --tuf-mirror")
	fs.StringVar(&o.Name, "name", "", "metadata.name of the policy (default: seal-OWNER-REPO)")
	fs.StringVarP(&o.Output, "output", "o", "-", "file to write, - for stdout")
	o.Timeout.AddFlags(fs)
}
