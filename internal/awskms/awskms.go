package awskms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/sigstore/sigstore/pkg/signature"
)

// The reference forms of sigstore's awskms:// client (pkg/signature/kms/aws
// ParseReference), so that a URI cosign accepts means the same key here.
var (
	uuidRE = `m?r?k?-?[A-Fa-f0-9]{8}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{12}`
	arnRE  = `arn:(?:aws|aws-us-gov|aws-cn):kms:[a-z0-9-]+:\d{12}:`
	hostRE = `([^/]*)/`
	refRE  = []*regexp.Regexp{
		regexp.MustCompile(`^awskms://` + hostRE + `(` + uuidRE + `)$`),
		regexp.MustCompile(`^awskms://` + hostRE + `(` + arnRE + `key/` + uuidRE + `)$`),
		regexp.MustCompile(`^awskms://` + hostRE + `(alias/.*)$`),
		regexp.MustCompile(`^awskms://` + hostRE + `(` + arnRE + `alias/.*)$`),
	}
)

// parseRef splits an awskms:// URI into its optional endpoint (host[:port],
// reached over HTTPS) and the key ID, alias or ARN.
func parseRef(ref string) (endpoint, keyID string, err error) {
	for _, re := range refRE {
		if m := re.FindStringSubmatch(ref); m != nil {
			return m[1], m[2], nil
		}
	}
	return "", "", errors.New("not an AWS KMS key reference: use awskms:///KEY-ID, awskms:///alias/NAME, awskms:///arn:aws:kms:REGION:ACCOUNT:key/KEY-ID or an alias ARN, optionally with an endpoint (awskms://HOST:PORT/...)")
}

// Open connects to the AWS KMS key that ref names and fetches its public
// key, which decides the signing algorithm. The signer it returns is safe
// for concurrent use; it verifies locally.
func Open(ctx context.Context, ref string, opts ...Option) (signature.SignerVerifier, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	host, keyID, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	s := &settings{lookup: o.lookupEnv}
	region, err := s.region(ctx, keyID)
	if err != nil {
		return nil, err
	}
	hc, err := s.httpClient(o.transport, o.attemptTimeout)
	if err != nil {
		return nil, err
	}
	secrets := &redactor{}
	creds, err := s.credentials(ctx, region, hc, o, secrets)
	if err != nil {
		return nil, err
	}
	kopts := kms.Options{Region: region, HTTPClient: hc, Credentials: creds}
	if o.retryer != nil {
		kopts.Retryer = o.retryer()
	}
	if host != "" {
		kopts.BaseEndpoint = aws.String("https://" + host)
	} else if kopts.BaseEndpoint, kopts.EndpointOptions.UseFIPSEndpoint, err = s.endpoint("KMS"); err != nil {
		return nil, err
	}
	sv, err := open(ctx, kms.New(kopts), keyID, secrets)
	if err != nil {
		return nil, secrets.wrap(err)
	}
	return sv, nil
}

// signer signs with one KMS key. It implements sigstore's
// signature.SignerVerifier like the other providers; verification is local,
// with the public key fetched once.
//
// It holds the one KMS call it makes, not the *kms.Client: cobra's
// text/template looks methods up by name, so the linker keeps every
// exported method of each type that reflection can reach from an
// interface value, and a client reachable from the signer would bring all
// of KMS's fifty-odd operations into the binary (2.2 MB with STS's, see
// assumeRole).
type signer struct {
	sign     func(context.Context, *kms.SignInput, ...func(*kms.Options)) (*kms.SignOutput, error)
	secrets  *redactor
	keyID    string // as the reference names it: IAM conditions on kms:RequestAlias see the alias
	pub      crypto.PublicKey
	alg      types.SigningAlgorithmSpec
	hash     crypto.Hash
	verifier signature.Verifier
}

func open(ctx context.Context, c *kms.Client, keyID string, secrets *redactor) (*signer, error) {
	out, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, err // "operation error KMS: GetPublicKey, ..."
	}
	if out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("the AWS KMS key has KeyUsage %s (key spec %s); signing needs a SIGN_VERIFY key", out.KeyUsage, out.KeySpec)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("AWS KMS key spec %s is not supported: use ECC_NIST_P256 (the curve cosign verifies), ECC_NIST_P384, ECC_NIST_P521 or RSA_2048/3072/4096", out.KeySpec)
	}
	alg, hash, err := signingAlgorithm(pub)
	if err != nil {
		return nil, fmt.Errorf("AWS KMS key spec %s: %w", out.KeySpec, err)
	}
	if !slices.Contains(out.SigningAlgorithms, alg) {
		offered := make([]string, len(out.SigningAlgorithms))
		for i, a := range out.SigningAlgorithms {
			offered[i] = string(a)
		}
		return nil, fmt.Errorf("the AWS KMS %s key offers %s, none of which cosign verifies; it needs %s", out.KeySpec, strings.Join(offered, ", "), alg)
	}
	v, err := signature.LoadVerifier(pub, hash) // PKCS#1 v1.5 for RSA, as alg
	if err != nil {
		return nil, fmt.Errorf("loading verifier: %w", err)
	}
	return &signer{sign: c.Sign, secrets: secrets, keyID: keyID, pub: pub, alg: alg, hash: hash, verifier: v}, nil
}

// signingAlgorithm is the KMS algorithm that signs as cosign verifies:
// ECDSA over the curve's hash, and RSA with PKCS#1 v1.5 and SHA-256 (AWS
// lists RSASSA-PSS first for RSA keys, which sigstore's client picks and
// cosign rejects).
func signingAlgorithm(pub crypto.PublicKey) (types.SigningAlgorithmSpec, crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return types.SigningAlgorithmSpecEcdsaSha256, crypto.SHA256, nil
		case elliptic.P384():
			return types.SigningAlgorithmSpecEcdsaSha384, crypto.SHA384, nil
		case elliptic.P521():
			return types.SigningAlgorithmSpecEcdsaSha512, crypto.SHA512, nil
		}
	case *rsa.PublicKey:
		return types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, crypto.SHA256, nil
	}
	return "", 0, fmt.Errorf("unsupported %T key", pub)
}

// PublicKey returns the key fetched when the signer was opened.
func (s *signer) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return s.pub, nil
}

// SignMessage signs the digest given with options.WithDigest, or else the
// message hashed with the key's hash; options.WithContext bounds the call.
func (s *signer) SignMessage(message io.Reader, opts ...signature.SignOption) ([]byte, error) {
	ctx := context.Background()
	for _, opt := range opts {
		opt.ApplyContext(&ctx)
	}
	digest, hash, err := signature.ComputeDigestForSigning(message, s.hash, []crypto.Hash{s.hash}, opts...)
	if err != nil {
		return nil, err
	}
	if len(digest) != hash.Size() {
		return nil, fmt.Errorf("signing with AWS KMS: got a %d-byte digest, %s needs %d", len(digest), hash, hash.Size())
	}
	out, err := s.sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.keyID),
		Message:          digest,
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: s.alg,
	})
	if err != nil {
		return nil, s.secrets.wrap(err)
	}
	if len(out.Signature) == 0 {
		return nil, errors.New("AWS KMS Sign: the response holds no signature")
	}
	return out.Signature, nil
}

// VerifySignature verifies locally with the public key.
func (s *signer) VerifySignature(sig, message io.Reader, opts ...signature.VerifyOption) error {
	return s.verifier.VerifySignature(sig, message, opts...)
}
