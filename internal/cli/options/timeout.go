package options

import (
	"time"

	"github.com/spf13/pflag"
)

// DefaultTimeout is --timeout's default, cosign's.
const DefaultTimeout = 3 * time.Minute

// Timeout bounds a verb's whole run.
type Timeout struct {
	// Timeout bounds the run: every registry and service request, their
	// retries, and the waits between them; 0 means no limit.
	Timeout time.Duration
}

// AddFlags registers the flags.
func (o *Timeout) AddFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&o.Timeout, "timeout", DefaultTimeout, "give up after this long, every registry, Sigstore, OIDC, KMS and GitHub request and its retries included (0: no limit)")
}
