package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // SHA-384 and SHA-512 for P-384 and P-521 keys
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/signature"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
)

// Keypair is a loaded signing key. It is immutable after Load and safe for
// concurrent use; it implements sigstore-go's sign.Keypair.
type Keypair struct {
	backend backend
	pub     *PublicKey
}

var _ sign.Keypair = (*Keypair)(nil)

// backend is where the private key lives: in memory or in a KMS. It signs a
// digest (or, for pure Ed25519, the message itself when hash is zero).
type backend interface {
	sign(ctx context.Context, digestOrMessage []byte, hash crypto.Hash) ([]byte, error)
}

// localBackend holds a private key in memory. The standard library's ECDSA,
// RSA and Ed25519 signers are safe for concurrent use.
type localBackend struct {
	signer crypto.Signer
}

func (l localBackend) sign(_ context.Context, b []byte, hash crypto.Hash) ([]byte, error) {
	// crypto.Hash as SignerOpts selects PKCS#1 v1.5 for RSA, which is what
	// cosign uses, and pure Ed25519 when hash is zero.
	return l.signer.Sign(rand.Reader, b, hash)
}

func newKeypair(b backend, pub crypto.PublicKey) (*Keypair, error) {
	p, err := newPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return &Keypair{backend: b, pub: p}, nil
}

// GetHashAlgorithm returns the hash algorithm SignData digests with.
func (k *Keypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	return k.pub.alg.GetProtoHashType()
}

// GetSigningAlgorithm returns the key's signature algorithm.
func (k *Keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.pub.alg.GetSignatureAlgorithm()
}

// GetHint returns the key hint sigstore-go puts into bundles: the base64
// SHA-256 of the DER public key.
func (k *Keypair) GetHint() []byte {
	return []byte(k.pub.hint)
}

// GetKeyAlgorithm returns "ECDSA", "RSA" or "ED25519".
func (k *Keypair) GetKeyAlgorithm() string {
	return k.pub.keyAlgorithm()
}

// GetPublicKey returns the public key.
func (k *Keypair) GetPublicKey() crypto.PublicKey {
	return k.pub.key
}

// GetPublicKeyPem returns the public key as a PKIX "PUBLIC KEY" PEM block.
func (k *Keypair) GetPublicKeyPem() (string, error) {
	return string(k.pub.pem), nil
}

// PublicKey returns the verifying half of the keypair.
func (k *Keypair) PublicKey() *PublicKey {
	return k.pub
}

// HashFunc returns the hash SignData applies before signing, or zero for
// Ed25519, which signs the message itself.
func (k *Keypair) HashFunc() crypto.Hash {
	return k.pub.alg.GetHashType()
}

// SignData signs data as cosign does and returns the signature and the
// digest that was signed (the data itself for Ed25519), as sign.Keypair
// requires.
func (k *Keypair) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	hash := k.HashFunc()
	toSign := data
	if hash != 0 {
		h := hash.New()
		h.Write(data)
		toSign = h.Sum(nil)
	}
	sig, err := k.backend.sign(ctx, toSign, hash)
	if err != nil {
		return nil, nil, fmt.Errorf("signing with %s key: %w", k.pub.describe(), err)
	}
	return sig, toSign, nil
}

// SignDigest signs a digest computed with HashFunc, for callers that hashed
// the payload themselves. Ed25519 keys cannot sign digests.
func (k *Keypair) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	hash := k.HashFunc()
	if hash == 0 {
		return nil, errors.New("signing digest: Ed25519 keys sign messages, not digests; use SignData")
	}
	if len(digest) != hash.Size() {
		return nil, fmt.Errorf("signing digest: got %d bytes, %s needs %d", len(digest), hash, hash.Size())
	}
	sig, err := k.backend.sign(ctx, digest, hash)
	if err != nil {
		return nil, fmt.Errorf("signing with %s key: %w", k.pub.describe(), err)
	}
	return sig, nil
}

// String describes the key without revealing it, so a Keypair that ends up
// in a log line or error prints no private material.
func (k *Keypair) String() string {
	return "keys.Keypair(" + k.pub.describe() + ", " + k.pub.hint + ")"
}

// GoString is String, for %#v.
func (k *Keypair) GoString() string { return k.String() }

// PublicKey is a verification key together with the signature algorithm
// cosign would use with it.
type PublicKey struct {
	key      crypto.PublicKey
	alg      signature.AlgorithmDetails
	verifier signature.Verifier // stateless, so shared by concurrent Verify calls
	pem      []byte
	hint     string
}

func newPublicKey(pub crypto.PublicKey) (*PublicKey, error) {
	alg, err := algorithmFor(pub)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	v, err := signature.LoadVerifierFromAlgorithmDetails(pub, alg)
	if err != nil {
		return nil, fmt.Errorf("loading verifier: %w", err)
	}
	sum := sha256.Sum256(der)
	return &PublicKey{
		key:      pub,
		alg:      alg,
		verifier: v,
		pem:      pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der}),
		hint:     base64.StdEncoding.EncodeToString(sum[:]),
	}, nil
}

// Public returns the crypto.PublicKey (*ecdsa.PublicKey, *rsa.PublicKey or
// ed25519.PublicKey).
func (p *PublicKey) Public() crypto.PublicKey { return p.key }

// PEM returns the key as a PKIX "PUBLIC KEY" PEM block, the cosign.pub format.
func (p *PublicKey) PEM() []byte { return append([]byte(nil), p.pem...) }

// Algorithm returns the signature algorithm used with this key.
func (p *PublicKey) Algorithm() protocommon.PublicKeyDetails {
	return p.alg.GetSignatureAlgorithm()
}

// HashFunc returns the hash signatures are computed over, zero for Ed25519.
func (p *PublicKey) HashFunc() crypto.Hash { return p.alg.GetHashType() }

// Hint returns the base64 SHA-256 of the DER public key, the key hint in
// sigstore bundles.
func (p *PublicKey) Hint() string { return p.hint }

// Verifier returns a sigstore signature.Verifier for this key using the same
// algorithm choice as signing, for sigstore-go's trusted key material.
func (p *PublicKey) Verifier() signature.Verifier { return p.verifier }

// Verify checks sig over data the way cosign verifies key-signed
// signatures: data is hashed with HashFunc unless the key is Ed25519.
func (p *PublicKey) Verify(sig, data []byte) error {
	if err := p.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(data)); err != nil {
		return fmt.Errorf("verifying signature with %s key: %w", p.describe(), err)
	}
	return nil
}

// VerifyDigest checks sig over a digest computed with HashFunc.
func (p *PublicKey) VerifyDigest(sig, digest []byte) error {
	if p.HashFunc() == 0 {
		return errors.New("verifying digest: Ed25519 signatures are over messages, not digests")
	}
	if err := p.verifier.VerifySignature(bytes.NewReader(sig), nil, sigopts.WithDigest(digest)); err != nil {
		return fmt.Errorf("verifying signature with %s key: %w", p.describe(), err)
	}
	return nil
}

// String describes the key by type and hint.
func (p *PublicKey) String() string {
	return "keys.PublicKey(" + p.describe() + ", " + p.hint + ")"
}

func (p *PublicKey) keyAlgorithm() string {
	switch p.alg.GetKeyType() {
	case signature.ECDSA:
		return "ECDSA"
	case signature.RSA:
		return "RSA"
	case signature.ED25519:
		return "ED25519"
	}
	return ""
}

// describe names the key type for errors, e.g. "ECDSA P-256".
func (p *PublicKey) describe() string {
	switch k := p.key.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", p.key)
}

// algorithmFor picks the algorithm cosign signs with for this key, and
// rejects keys cosign and sigstore do not accept.
func algorithmFor(pub crypto.PublicKey) (signature.AlgorithmDetails, error) {
	var d protocommon.PublicKeyDetails
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			d = protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
		case elliptic.P384():
			d = protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384
		case elliptic.P521():
			d = protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512
		default:
			return signature.AlgorithmDetails{}, fmt.Errorf("unsupported ECDSA curve %s: use P-256, P-384 or P-521", curveName(k.Curve))
		}
	case *rsa.PublicKey:
		switch bits := k.N.BitLen(); bits {
		case 2048:
			d = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256
		case 3072:
			d = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256
		case 4096:
			d = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256
		default:
			return signature.AlgorithmDetails{}, fmt.Errorf("unsupported RSA key size %d bits: use 2048, 3072 or 4096", bits)
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return signature.AlgorithmDetails{}, errors.New("malformed Ed25519 public key")
		}
		d = protocommon.PublicKeyDetails_PKIX_ED25519
	default:
		return signature.AlgorithmDetails{}, fmt.Errorf("unsupported key type %T: use ECDSA, RSA or Ed25519", pub)
	}
	return signature.GetAlgorithmDetails(d)
}

func curveName(c elliptic.Curve) string {
	if c == nil || c.Params() == nil {
		return "(unknown)"
	}
	return c.Params().Name
}
