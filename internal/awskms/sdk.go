//go:build seal_awskms

package awskms

import (
	"context"
	"crypto/rsa"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms/aws"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
)

// Open connects to an AWS KMS key through sigstore's client. This is the
// -tags seal_awskms alternative to the native client of the default build
// (kms.go): 4.4 MB larger, for the AWS SDK's full default chain of
// credentials and region (SSO, credential_process, assume-role profiles as
// well).
func Open(ctx context.Context, ref string, opts ...Option) (signature.SignerVerifier, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	var cfg []func(*config.LoadOptions) error
	if o.transport != nil {
		cfg = append(cfg, config.WithHTTPClient(&http.Client{Transport: o.transport}))
	}
	sv, err := aws.LoadSignerVerifier(ctx, ref, cfg...)
	if err != nil {
		return nil, err
	}
	pub, err := sv.PublicKey(sigopts.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if _, ok := pub.(*rsa.PublicKey); ok {
		// sigstore's client signs with the key's first listed algorithm,
		// RSASSA-PSS for AWS RSA keys, while cosign verifies RSA keys with
		// PKCS#1 v1.5: the signatures would not verify with the exported key.
		return nil, errors.New("AWS KMS RSA keys sign with RSASSA-PSS, which cosign's key verification rejects; use an ECC_NIST_P256 key")
	}
	return sv, nil
}
