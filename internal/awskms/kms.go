//go:build !seal_awskms

package awskms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/sigstore/sigstore/pkg/signature"
)

// The default build talks to AWS KMS itself: two calls (GetPublicKey and
// Sign) of the JSON 1.1 protocol, signed by the AWS SDK's SigV4 signer, with
// the credential sources CI uses (creds.go). The signer and the SDK's
// container and instance credential clients cost 0.52 MB of binary; its KMS
// and STS clients would add about 1.2 MB more for three small calls, and
// its config loader, which sigstore's client needs, more again:
// -tags seal_awskms builds that instead (sdk.go, 4.4 MB in all), for the
// SDK's full credential chain.

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
	regionRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
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
	e, err := newEnv(o)
	if err != nil {
		return nil, err
	}
	if err := e.resolveRegion(keyID); err != nil {
		return nil, err
	}
	endpoint := "https://" + host
	if host == "" {
		if endpoint, err = e.endpoint("KMS", "kms"); err != nil {
			return nil, err
		}
	}
	creds, err := e.credentials(ctx)
	if err != nil {
		return nil, err
	}
	c := &client{http: e.http, endpoint: endpoint, region: e.region, creds: creds, signer: v4.NewSigner()}
	return c.open(ctx, keyID)
}

// client calls one KMS endpoint. It is safe for concurrent use.
type client struct {
	http     *http.Client
	endpoint string
	region   string
	creds    *credentialProvider
	signer   *v4.Signer
}

// signer signs with one KMS key. It implements sigstore's
// signature.SignerVerifier like the other providers; verification is local,
// with the public key fetched once.
type signer struct {
	kms      *client
	keyID    string // as the reference names it: IAM conditions on kms:RequestAlias see the alias
	pub      crypto.PublicKey
	alg      string // KMS SigningAlgorithm
	hash     crypto.Hash
	verifier signature.Verifier
}

func (c *client) open(ctx context.Context, keyID string) (*signer, error) {
	var out struct {
		PublicKey         []byte
		KeySpec           string
		KeyUsage          string
		SigningAlgorithms []string
	}
	if err := c.call(ctx, "GetPublicKey", map[string]string{"KeyId": keyID}, &out); err != nil {
		return nil, err
	}
	if out.KeyUsage != "SIGN_VERIFY" {
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
		return nil, fmt.Errorf("the AWS KMS %s key offers %s, none of which cosign verifies; it needs %s", out.KeySpec, strings.Join(out.SigningAlgorithms, ", "), alg)
	}
	v, err := signature.LoadVerifier(pub, hash) // PKCS#1 v1.5 for RSA, as alg
	if err != nil {
		return nil, fmt.Errorf("loading verifier: %w", err)
	}
	return &signer{kms: c, keyID: keyID, pub: pub, alg: alg, hash: hash, verifier: v}, nil
}

// signingAlgorithm is the KMS algorithm that signs as cosign verifies:
// ECDSA over the curve's hash, and RSA with PKCS#1 v1.5 and SHA-256 (AWS
// lists RSASSA-PSS first for RSA keys, which sigstore's SDK client picks
// and cosign rejects).
func signingAlgorithm(pub crypto.PublicKey) (string, crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ECDSA_SHA_256", crypto.SHA256, nil
		case elliptic.P384():
			return "ECDSA_SHA_384", crypto.SHA384, nil
		case elliptic.P521():
			return "ECDSA_SHA_512", crypto.SHA512, nil
		}
	case *rsa.PublicKey:
		return "RSASSA_PKCS1_V1_5_SHA_256", crypto.SHA256, nil
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
	var out struct{ Signature []byte }
	in := map[string]any{"KeyId": s.keyID, "Message": digest, "MessageType": "DIGEST", "SigningAlgorithm": s.alg}
	if err := s.kms.call(ctx, "Sign", in, &out); err != nil {
		return nil, err
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

const (
	attempts       = 3
	attemptTimeout = 30 * time.Second
	maxResponse    = 1 << 20
)

// call makes one KMS API call, retrying throttling, server errors and
// broken connections as the SDK does.
func (c *client) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		retry, err := c.try(ctx, op, body, out)
		if err == nil || !retry || attempt == attempts || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
		}
	}
}

func (c *client) try(ctx context.Context, op string, body []byte, out any) (retry bool, err error) {
	creds, err := c.creds.get(ctx)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("AWS KMS endpoint: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "kms", c.region, time.Now()); err != nil {
		return false, fmt.Errorf("AWS KMS %s: signing the request: %w", op, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return retryable(err), fmt.Errorf("AWS KMS %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return true, fmt.Errorf("AWS KMS %s: reading the response: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		typ, msg := jsonError(resp, data)
		retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests ||
			typ == "ThrottlingException" || typ == "KMSInternalException" || typ == "DependencyTimeoutException"
		return retry, fmt.Errorf("AWS KMS %s: %s", op, errorText(resp.Status, typ, msg, creds.SecretAccessKey, creds.SessionToken))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("AWS KMS %s: decoding the response: %w", op, err)
	}
	return false, nil
}

// retryable reports whether a failed request may succeed when sent again:
// not when the server's certificate is untrusted.
func retryable(err error) bool {
	var cert *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	return !errors.As(err, &cert) && !errors.As(err, &unknown) && !errors.As(err, &invalid) && !errors.As(err, &host)
}

// jsonError reads the error type and message of a JSON-protocol error
// response: {"__type":"com.amazonaws.kms#NotFoundException","message":...}.
func jsonError(resp *http.Response, data []byte) (typ, msg string) {
	var e struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(data, &e) // a proxy's HTML page leaves both empty
	typ = e.Type
	if typ == "" {
		typ = e.Code
	}
	if typ == "" {
		typ = resp.Header.Get("X-Amzn-Errortype")
	}
	typ, _, _ = strings.Cut(typ, ":")
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	msg = e.Message
	if msg == "" {
		msg = e.MessageU
	}
	return typ, msg
}

// errorText puts an AWS error on one line, with any secret that the
// service echoed replaced.
func errorText(status, typ, msg string, secrets ...string) string {
	var s string
	switch {
	case typ != "" && msg != "":
		s = typ + ": " + msg
	case typ != "":
		s = typ + " (HTTP " + status + ")"
	case msg != "":
		s = "HTTP " + status + ": " + msg
	default:
		s = "HTTP " + status
	}
	return redact(s, secrets...)
}

// redact replaces the secrets in s, puts it on one line and bounds it.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 8 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}
