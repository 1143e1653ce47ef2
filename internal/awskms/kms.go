//go:build !seal_awskms

package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
)

// The default build talks to AWS KMS itself: two calls (GetPublicKey and
// Sign) of the JSON 1.1 protocol, signed with SigV4 (awssigv4.go), with
// the credential sources CI uses (awscreds.go). The AWS SDK, which
// sigstore's client needs, would add 5 MB to the binary; -tags seal_awskms
// builds that instead (kms_aws.go), for its full credential chain.

// The reference forms of sigstore's awskms:// client (pkg/signature/kms/aws
// ParseReference), so that a URI cosign accepts means the same key here.
var (
	awsUUIDRE   = `m?r?k?-?[A-Fa-f0-9]{8}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{12}`
	awsARNRE    = `arn:(?:aws|aws-us-gov|aws-cn):kms:[a-z0-9-]+:\d{12}:`
	awsHostRE   = `([^/]*)/`
	awsKMSRefRE = []*regexp.Regexp{
		regexp.MustCompile(`^awskms://` + awsHostRE + `(` + awsUUIDRE + `)$`),
		regexp.MustCompile(`^awskms://` + awsHostRE + `(` + awsARNRE + `key/` + awsUUIDRE + `)$`),
		regexp.MustCompile(`^awskms://` + awsHostRE + `(alias/.*)$`),
		regexp.MustCompile(`^awskms://` + awsHostRE + `(` + awsARNRE + `alias/.*)$`),
	}
	awsRegionRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// parseAWSKMSRef splits an awskms:// URI into its optional endpoint
// (host[:port], reached over HTTPS) and the key ID, alias or ARN.
func parseAWSKMSRef(ref string) (endpoint, keyID string, err error) {
	for _, re := range awsKMSRefRE {
		if m := re.FindStringSubmatch(ref); m != nil {
			return m[1], m[2], nil
		}
	}
	return "", "", errors.New("not an AWS KMS key reference: use awskms:///KEY-ID, awskms:///alias/NAME, awskms:///arn:aws:kms:REGION:ACCOUNT:key/KEY-ID or an alias ARN, optionally with an endpoint (awskms://HOST:PORT/...)")
}

// loadAWSKMS connects to an AWS KMS key and fetches its public key, which
// decides the signing algorithm.
func loadAWSKMS(ctx context.Context, ref string, o *options) (signature.SignerVerifier, error) {
	host, keyID, err := parseAWSKMSRef(ref)
	if err != nil {
		return nil, err
	}
	e, err := newAWSEnv(o)
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
	k := &awsKMS{http: e.http, endpoint: endpoint, region: e.region, creds: creds}
	return k.open(ctx, keyID)
}

// awsKMS is a client for one KMS endpoint. It is safe for concurrent use.
type awsKMS struct {
	http     *http.Client
	endpoint string
	region   string
	creds    *awsCredentialProvider
}

// awsKMSSigner signs with one KMS key. It implements sigstore's
// signature.SignerVerifier like the other providers; verification is local,
// with the public key fetched once.
type awsKMSSigner struct {
	kms      *awsKMS
	keyID    string // as the reference names it: IAM conditions on kms:RequestAlias see the alias
	pub      crypto.PublicKey
	alg      string // KMS SigningAlgorithm
	hash     crypto.Hash
	verifier signature.Verifier
}

func (k *awsKMS) open(ctx context.Context, keyID string) (*awsKMSSigner, error) {
	var out struct {
		PublicKey         []byte
		KeySpec           string
		KeyUsage          string
		SigningAlgorithms []string
	}
	if err := k.call(ctx, "GetPublicKey", map[string]string{"KeyId": keyID}, &out); err != nil {
		return nil, err
	}
	if out.KeyUsage != "SIGN_VERIFY" {
		return nil, fmt.Errorf("the AWS KMS key has KeyUsage %s (key spec %s); signing needs a SIGN_VERIFY key", out.KeyUsage, out.KeySpec)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("AWS KMS key spec %s is not supported: use ECC_NIST_P256 (the curve cosign verifies), ECC_NIST_P384, ECC_NIST_P521 or RSA_2048/3072/4096", out.KeySpec)
	}
	alg, hash, err := awsSigningAlgorithm(pub)
	if err != nil {
		return nil, fmt.Errorf("AWS KMS key spec %s: %w", out.KeySpec, err)
	}
	if !slices.Contains(out.SigningAlgorithms, alg) {
		return nil, fmt.Errorf("the AWS KMS %s key offers %s, none of which cosign verifies; it needs %s", out.KeySpec, strings.Join(out.SigningAlgorithms, ", "), alg)
	}
	details, err := algorithmFor(pub)
	if err != nil {
		return nil, err
	}
	v, err := signature.LoadVerifierFromAlgorithmDetails(pub, details)
	if err != nil {
		return nil, fmt.Errorf("loading verifier: %w", err)
	}
	return &awsKMSSigner{kms: k, keyID: keyID, pub: pub, alg: alg, hash: hash, verifier: v}, nil
}

// awsSigningAlgorithm is the KMS algorithm that signs as cosign verifies:
// ECDSA over the curve's hash, and RSA with PKCS#1 v1.5 and SHA-256 (AWS
// lists RSASSA-PSS first for RSA keys, which sigstore's SDK client picks
// and cosign rejects).
func awsSigningAlgorithm(pub crypto.PublicKey) (string, crypto.Hash, error) {
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
func (s *awsKMSSigner) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return s.pub, nil
}

// SignMessage signs the digest given with options.WithDigest, or else the
// message hashed with the key's hash; options.WithContext bounds the call.
func (s *awsKMSSigner) SignMessage(message io.Reader, opts ...signature.SignOption) ([]byte, error) {
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
func (s *awsKMSSigner) VerifySignature(sig, message io.Reader, opts ...signature.VerifyOption) error {
	return s.verifier.VerifySignature(sig, message, opts...)
}

const (
	awsAttempts       = 3
	awsAttemptTimeout = 30 * time.Second
	awsMaxResponse    = 1 << 20
)

// call makes one KMS API call, retrying throttling, server errors and
// broken connections as the SDK does.
func (k *awsKMS) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		retry, err := k.try(ctx, op, body, out)
		if err == nil || !retry || attempt == awsAttempts || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
		}
	}
}

func (k *awsKMS) try(ctx context.Context, op string, body []byte, out any) (retry bool, err error) {
	creds, err := k.creds.get(ctx)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, awsAttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.endpoint, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("AWS KMS endpoint: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	signSigV4(req, body, creds, "kms", k.region, time.Now())
	resp, err := k.http.Do(req)
	if err != nil {
		return awsRetryable(err), fmt.Errorf("AWS KMS %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, awsMaxResponse))
	if err != nil {
		return true, fmt.Errorf("AWS KMS %s: reading the response: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		typ, msg := awsJSONError(resp, data)
		retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests ||
			typ == "ThrottlingException" || typ == "KMSInternalException" || typ == "DependencyTimeoutException"
		return retry, fmt.Errorf("AWS KMS %s: %s", op, awsErrorText(resp.Status, typ, msg, creds.secretAccessKey, creds.sessionToken))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("AWS KMS %s: decoding the response: %w", op, err)
	}
	return false, nil
}

// awsRetryable reports whether a failed request may succeed when sent
// again: not when the server's certificate is untrusted.
func awsRetryable(err error) bool {
	var cert *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	return !errors.As(err, &cert) && !errors.As(err, &unknown) && !errors.As(err, &invalid) && !errors.As(err, &host)
}

// awsJSONError reads the error type and message of a JSON-protocol error
// response: {"__type":"com.amazonaws.kms#NotFoundException","message":...}.
func awsJSONError(resp *http.Response, data []byte) (typ, msg string) {
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

// awsErrorText puts an AWS error on one line, with any secret that the
// service echoed replaced.
func awsErrorText(status, typ, msg string, secrets ...string) string {
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

// awsEnv is what the AWS settings resolve to: region, HTTP client and the
// shared-config profile. Settings come from o.lookupEnv, the process
// environment unless a caller replaced it.
type awsEnv struct {
	o       *options
	http    *http.Client
	region  string
	profile *awsProfile // loaded on first use
}

func newAWSEnv(o *options) (*awsEnv, error) {
	e := &awsEnv{o: o, http: &http.Client{Transport: o.transport}}
	if bundle := e.get("AWS_CA_BUNDLE"); bundle != "" {
		if o.transport != nil {
			return nil, errors.New("AWS_CA_BUNDLE is set but the caller supplied its own HTTP transport, which owns TLS; unset one of them")
		}
		pem, err := os.ReadFile(bundle)
		if err != nil {
			return nil, fmt.Errorf("reading AWS_CA_BUNDLE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("AWS_CA_BUNDLE %s holds no PEM certificate", bundle)
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		e.http.Transport = t
	}
	return e, nil
}

// get returns the first of the named variables that is set and not empty.
func (e *awsEnv) get(names ...string) string {
	for _, n := range names {
		if v, ok := e.o.lookupEnv(n); ok && v != "" {
			return v
		}
	}
	return ""
}

func (e *awsEnv) isTrue(name string) bool {
	return strings.EqualFold(strings.TrimSpace(e.get(name)), "true")
}

// resolveRegion takes the region from a key ARN, else from AWS_REGION,
// AWS_DEFAULT_REGION or the profile's region setting, as the SDK does.
func (e *awsEnv) resolveRegion(keyID string) error {
	source := "the key ARN"
	if strings.HasPrefix(keyID, "arn:") {
		e.region = strings.Split(keyID, ":")[3]
	}
	if e.region == "" {
		if e.region = e.get("AWS_REGION"); e.region != "" {
			source = "AWS_REGION"
		} else if e.region = e.get("AWS_DEFAULT_REGION"); e.region != "" {
			source = "AWS_DEFAULT_REGION"
		}
	}
	if e.region == "" {
		p, err := e.loadProfile()
		if err != nil {
			return err
		}
		e.region, source = p.get("region"), "the region of AWS profile "+p.name
	}
	if e.region == "" {
		return errors.New("no AWS region: the key is not an ARN, and neither AWS_REGION, AWS_DEFAULT_REGION nor the AWS profile's region is set")
	}
	if !awsRegionRE.MatchString(e.region) {
		return fmt.Errorf("AWS region %q (from %s) is not a region name", e.region, source)
	}
	return nil
}

// endpoint is the base URL of a service, e.g. KMS: AWS_ENDPOINT_URL_KMS,
// else AWS_ENDPOINT_URL, else the regional AWS endpoint (FIPS with
// AWS_USE_FIPS_ENDPOINT=true).
func (e *awsEnv) endpoint(serviceID, prefix string) (string, error) {
	if !e.isTrue("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
		for _, name := range []string{"AWS_ENDPOINT_URL_" + serviceID, "AWS_ENDPOINT_URL"} {
			if v := e.get(name); v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					return "", fmt.Errorf("%s %q is not an http(s) URL", name, v)
				}
				return v, nil
			}
		}
	}
	if e.isTrue("AWS_USE_FIPS_ENDPOINT") {
		prefix += "-fips"
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(e.region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return "https://" + prefix + "." + e.region + "." + domain + "/", nil
}

// homeDir is the user's home directory, where ~/.aws lives.
func (e *awsEnv) homeDir() string {
	if runtime.GOOS == "windows" {
		return e.get("USERPROFILE", "HOME")
	}
	return e.get("HOME")
}
