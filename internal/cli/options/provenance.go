package options

import "github.com/spf13/pflag"

// Provenance configures `seal provenance`.
type Provenance struct {
	// Subjects are "NAME@sha256:HEX" artifacts.
	Subjects []string
	// SubjectPaths are globs of files to hash as subjects.
	SubjectPaths []string
	// Output is the file to write ("-" or empty: stdout).
	Output string
	// PredicateOnly writes the predicate without the Statement around it,
	// as `cosign attest --predicate` takes it.
	PredicateOnly bool
	// SLSAVersion is "1" or "0.2".
	SLSAVersion string
	Token
	Timeout
}

// AddFlags registers the flags.
func (o *Provenance) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.Subjects, "subject", nil, "artifact NAME@sha256:HEX (repeatable)")
	fs.StringArrayVar(&o.SubjectPaths, "subject-path", nil, "glob of files to hash as subjects (repeatable)")
	fs.StringVarP(&o.Output, "output", "o", "-", "file to write, - for stdout")
	fs.BoolVar(&o.PredicateOnly, "predicate-only", false, "write only the predicate (for cosign attest --predicate)")
	fs.StringVar(&o.SLSAVersion, "slsa-version", "1", "SLSA provenance version: 1 or 0.2")
	o.Token.AddFlags(fs)
	o.Timeout.AddFlags(fs)
}
