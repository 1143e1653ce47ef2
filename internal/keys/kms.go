package keys

import (
	"bytes"
	"context"
	"crypto"
	"fmt"

	"github.com/sigstore/sigstore/pkg/signature"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
)

// openKMS connects to a KMS key and fetches its public half, which decides
// the signature algorithm.
func openKMS(ctx context.Context, scheme, ref string, o *options) (signature.SignerVerifier, crypto.PublicKey, error) {
	sv, err := loadKMS(ctx, scheme, ref, o)
	if err != nil {
		return nil, nil, err
	}
	pub, err := sv.PublicKey(sigopts.WithContext(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("fetching public key: %w", err)
	}
	return sv, pub, nil
}

// loadKMS connects to the KMS named by scheme. Each provider lives in its own
// build-tagged file, so a provider left out of the binary costs nothing and
// says which tag brings it back.
func loadKMS(ctx context.Context, scheme, ref string, o *options) (signature.SignerVerifier, error) {
	switch scheme {
	case "hashivault", "openbao":
		return loadHashiVault(ctx, ref, o)
	case "awskms":
		return loadAWSKMS(ctx, ref, o)
	}
	return nil, fmt.Errorf("unknown KMS scheme %s://", scheme)
}

// kmsBackend signs remotely; only the digest leaves the process (the message,
// for Ed25519). sigstore's KMS clients are safe for concurrent use.
type kmsBackend struct {
	sv signature.SignerVerifier
}

func (k kmsBackend) sign(ctx context.Context, b []byte, hash crypto.Hash) ([]byte, error) {
	opts := []signature.SignOption{sigopts.WithContext(ctx), sigopts.WithCryptoSignerOpts(hash)}
	if hash == 0 {
		return k.sv.SignMessage(bytes.NewReader(b), opts...)
	}
	return k.sv.SignMessage(bytes.NewReader(nil), append(opts, sigopts.WithDigest(b))...)
}
