//go:build !seal_awskms

package keys

import (
	"context"
	"errors"

	"github.com/sigstore/sigstore/pkg/signature"
)

// AWS KMS support adds about 5 MB (the AWS SDK) to the binary, so it is
// opt-in.
func loadAWSKMS(context.Context, string, *options) (signature.SignerVerifier, error) {
	return nil, errors.New("awskms:// keys need a Seal binary built with -tags seal_awskms (AWS KMS support is left out of the default build to keep it small)")
}
