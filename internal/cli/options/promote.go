package options

import "github.com/spf13/pflag"

// Promote configures `seal promote`: the checks of `seal verify`, and the promotion signer
// that signs their verdict.
type Promote struct {
	// Verify is what the image must pass: seal verify's flags, those that would clash with
	// the signer's prefixed with verify- (--verify-key for key-signed images,
	// --verify-no-tlog). Its registry access and output are the Publish ones.
	Verify Verify
	// Sign also signs the image's digest with the promotion signer, for verifiers that
	// read signatures only (Flux's verify).
	Sign bool
	// Publish is the promotion signer (--key, keyless by default) and where its summary
	// and signature are written.
	Publish
}

// promoteShared are the flags of seal verify that promote takes from the signer's side
// instead of registering twice: one registry access, one output, one image.
var promoteShared = map[string]bool{"insecure-registry": true, "json": true, "jobs": true, "bundle": true, "timeout": true}

// AddFlags registers the flags: the signer's as seal attest names them, then seal verify's,
// renamed to verify-NAME where the signer already has NAME.
func (o *Promote) AddFlags(fs *pflag.FlagSet) {
	pub := pflag.NewFlagSet("publish", pflag.ContinueOnError)
	o.Publish.AddFlags(pub)
	pub.VisitAll(func(f *pflag.Flag) {
		// A summary is about the one image verified: --recursive would
		// attest it about every platform.
		if f.Name != "recursive" {
			fs.AddFlag(f)
		}
	})
	fs.BoolVar(&o.Sign, "sign", false, "also sign the image's digest with the promotion signer, for verifiers that read signatures only (Flux's verify)")
	ver := pflag.NewFlagSet("verify", pflag.ContinueOnError)
	ver.SortFlags = false
	o.Verify.AddFlags(ver)
	ver.VisitAll(func(f *pflag.Flag) {
		if promoteShared[f.Name] {
			return
		}
		if fs.Lookup(f.Name) != nil {
			c := *f
			c.Name, c.Shorthand = "verify-"+f.Name, ""
			c.Usage = "verification: " + f.Usage
			f = &c
		}
		if f.Name == "vsa" {
			c := *f
			c.Usage = "also write the SLSA Verification Summary of the verification, PASSED or FAILED, to FILE (what is signed is the PASSED one only)"
			f = &c
		}
		fs.AddFlag(f)
	})
}
