package keys

import (
	"context"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/sealsign/seal/internal/awskms"
)

// loadAWSKMS connects to an AWS KMS key through internal/awskms, with this
// Load's environment and transport.
func loadAWSKMS(ctx context.Context, ref string, o *options) (signature.SignerVerifier, error) {
	opts := []awskms.Option{awskms.WithLookupEnv(o.lookupEnv)}
	if o.transport != nil {
		opts = append(opts, awskms.WithTransport(o.transport))
	}
	return awskms.Open(ctx, ref, opts...)
}
