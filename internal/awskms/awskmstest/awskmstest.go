// Package awskmstest is a fake AWS KMS for tests, a server that the AWS
// SDK's KMS client talks to: it answers the JSON 1.1 protocol of the calls
// Seal makes through that client (GetPublicKey, Sign; DescribeKey too),
// records them, and checks every request's SigV4 signature with the secret
// of its access key, as KMS does, so a wrong secret or scope fails as on
// AWS. What it signs is checked by the tests with the standard library and
// cosign, not by the fake. Only tests import it.
package awskmstest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Secret is the secret access key of AccessKeyID, which every KMS accepts.
const (
	AccessKeyID = "AKIDSEALTEST"
	Secret      = "seal-test-secret"
)

// KMS is the fake, an http.Handler. Its keys and secrets may be changed
// between requests.
type KMS struct {
	mu       sync.Mutex
	secrets  map[string]string // access key ID -> secret access key
	keys     map[string]*Key   // by alias, ARN or ID
	calls    []Call
	throttle int
}

// Key is one KMS key. Tests may change its fields before the calls that
// should see the change.
type Key struct {
	Signer     crypto.Signer
	ARN        string
	Spec       string
	Usage      string
	Algorithms []string
	Fail       *Error // every call on the key fails with this
}

// Error is an AWS JSON error response.
type Error struct {
	Status        int
	Type, Message string
}

// Call is one request the fake accepted: its target (TrentService.Sign...),
// key, credentials, region and signing algorithm.
type Call struct {
	Target, KeyID, AccessKey, SessionToken, Region, Algorithm string
}

// New returns a KMS holding the signers under the aliases given (and under
// made-up ARNs in eu-west-1, account 111122223333), as SIGN_VERIFY keys
// offering the algorithms AWS lists for them (RSASSA-PSS first for RSA).
func New(signers map[string]crypto.Signer) *KMS {
	f := &KMS{secrets: map[string]string{AccessKeyID: Secret}, keys: map[string]*Key{}}
	aliases := make([]string, 0, len(signers))
	for alias := range signers {
		aliases = append(aliases, alias)
	}
	slices.Sort(aliases)
	for i, alias := range aliases {
		s := signers[alias]
		k := &Key{Signer: s, Usage: "SIGN_VERIFY", ARN: fmt.Sprintf("arn:aws:kms:eu-west-1:111122223333:key/%08d-12ab-34cd-56ef-1234567890ab", i+1)}
		switch pub := s.Public().(type) {
		case *ecdsa.PublicKey:
			bits := pub.Curve.Params().BitSize
			k.Spec = fmt.Sprintf("ECC_NIST_P%d", bits)
			k.Algorithms = []string{fmt.Sprintf("ECDSA_SHA_%d", map[int]int{256: 256, 384: 384, 521: 512}[bits])}
		case *rsa.PublicKey:
			k.Spec = fmt.Sprintf("RSA_%d", pub.N.BitLen())
			k.Algorithms = []string{"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
				"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"}
		}
		f.keys[alias], f.keys[k.ARN] = k, k
	}
	return f
}

// Key returns the key an alias, ARN or ID names.
func (f *KMS) Key(id string) *Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[id]
}

// AddKey makes k reachable under one more ID, alias or ARN.
func (f *KMS) AddKey(id string, k *Key) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[id] = k
}

// AddSecret accepts one more access key.
func (f *KMS) AddSecret(accessKeyID, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[accessKeyID] = secret
}

// Throttle fails the next n requests with ThrottlingException.
func (f *KMS) Throttle(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle = n
}

// Calls returns the requests accepted so far, oldest first.
func (f *KMS) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Last returns the last request accepted.
func (f *KMS) Last() Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return Call{}
	}
	return f.calls[len(f.calls)-1]
}

func fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.kms#" + typ, "message": msg})
}

func (f *KMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	call, err := f.checkSigV4(r, body)
	if err != nil {
		fail(w, http.StatusBadRequest, "InvalidSignatureException", err.Error())
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		fail(w, http.StatusBadRequest, "SerializationException", "not a JSON 1.1 POST to /")
		return
	}
	var req struct {
		KeyID            string `json:"KeyId"`
		Message          []byte
		MessageType      string
		SigningAlgorithm string
	}
	if err := json.Unmarshal(body, &req); err != nil {
		fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	call.Target, call.KeyID, call.Algorithm = r.Header.Get("X-Amz-Target"), req.KeyID, req.SigningAlgorithm

	f.mu.Lock()
	throttled := f.throttle > 0
	if throttled {
		f.throttle--
	}
	key, ok := f.keys[req.KeyID]
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	switch {
	case throttled:
		fail(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		return
	case !ok:
		fail(w, http.StatusBadRequest, "NotFoundException", fmt.Sprintf("Alias arn:aws:kms:%s:111122223333:%s is not found.", call.Region, req.KeyID))
		return
	case key.Fail != nil:
		fail(w, key.Fail.Status, key.Fail.Type, key.Fail.Message)
		return
	}

	var resp any
	switch call.Target {
	case "TrentService.GetPublicKey":
		der, _ := x509.MarshalPKIXPublicKey(key.Signer.Public())
		resp = map[string]any{"KeyId": key.ARN, "PublicKey": der, "KeySpec": key.Spec, "CustomerMasterKeySpec": key.Spec, "KeyUsage": key.Usage, "SigningAlgorithms": key.Algorithms}
	case "TrentService.DescribeKey":
		resp = map[string]any{"KeyMetadata": map[string]any{"KeyId": key.ARN, "Arn": key.ARN, "KeySpec": key.Spec, "KeyUsage": key.Usage, "SigningAlgorithms": key.Algorithms, "Enabled": true, "KeyState": "Enabled"}}
	case "TrentService.Sign":
		if key.Usage != "SIGN_VERIFY" {
			fail(w, http.StatusBadRequest, "InvalidKeyUsageException", "the key is not a signing key")
			return
		}
		if req.MessageType != "DIGEST" || !slices.Contains(key.Algorithms, req.SigningAlgorithm) {
			fail(w, http.StatusBadRequest, "ValidationException", "bad MessageType or SigningAlgorithm "+req.SigningAlgorithm)
			return
		}
		sig, err := sign(key.Signer, req.SigningAlgorithm, req.Message)
		if err != nil {
			fail(w, http.StatusBadRequest, "ValidationException", err.Error())
			return
		}
		resp = map[string]any{"KeyId": key.ARN, "Signature": sig, "SigningAlgorithm": req.SigningAlgorithm}
	default:
		fail(w, http.StatusBadRequest, "UnknownOperationException", call.Target)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(resp)
}

func sign(s crypto.Signer, alg string, digest []byte) ([]byte, error) {
	hash := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[alg[len(alg)-3:]]
	if len(digest) != hash.Size() {
		return nil, fmt.Errorf("digest is %d bytes, %s needs %d", len(digest), alg, hash.Size())
	}
	switch k := s.(type) {
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, k, digest)
	case *rsa.PrivateKey:
		if strings.HasPrefix(alg, "RSASSA_PSS") {
			return rsa.SignPSS(rand.Reader, k, hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand.Reader, k, hash, digest)
	}
	return nil, fmt.Errorf("cannot sign with %T", s)
}

// checkSigV4 recomputes the request's signature with the AWS SDK's signer
// over the headers the request says it signed, with the secret of its
// access key, and compares.
func (f *KMS) checkSigV4(r *http.Request, body []byte) (Call, error) {
	var call Call
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 Credential=")
	if !ok {
		return call, errors.New("no SigV4 Authorization header")
	}
	cred, rest, _ := strings.Cut(rest, ", SignedHeaders=")
	signedList, _, _ := strings.Cut(rest, ", Signature=")
	scope := strings.Split(cred, "/") // AKID/DATE/REGION/SERVICE/aws4_request
	if len(scope) != 5 || scope[3] != "kms" || scope[4] != "aws4_request" {
		return call, fmt.Errorf("bad credential scope %q", cred)
	}
	call.AccessKey, call.Region = scope[0], scope[2]
	f.mu.Lock()
	secret, ok := f.secrets[call.AccessKey]
	f.mu.Unlock()
	if !ok {
		return call, errors.New("unknown access key")
	}
	signed := strings.Split(signedList, ";")
	for _, must := range []string{"host", "x-amz-date", "x-amz-target", "content-type"} {
		if !slices.Contains(signed, must) {
			return call, fmt.Errorf("%s is not signed", must)
		}
	}
	call.SessionToken = r.Header.Get("X-Amz-Security-Token")
	if call.SessionToken != "" && !slices.Contains(signed, "x-amz-security-token") {
		return call, errors.New("the session token is not signed")
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != scope[1] {
		return call, errors.New("X-Amz-Date does not match the scope")
	}
	if d := time.Since(at); d > 5*time.Minute || d < -5*time.Minute {
		return call, fmt.Errorf("signed %v ago", d)
	}
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return call, err
	}
	again.ContentLength = 0
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			again.ContentLength = r.ContentLength
		default:
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: call.AccessKey, SecretAccessKey: secret, SessionToken: call.SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), scope[3], scope[2], at); err != nil {
		return call, err
	}
	if again.Header.Get("Authorization") != auth {
		return call, errors.New("The request signature we calculated does not match the signature you provided.")
	}
	return call, nil
}

// Redirect is a transport that sends every request to the server at to,
// keeping the Host the client signed, as a proxy would.
type Redirect struct{ To *url.URL }

// RoundTrip sends r to the server.
func (rt Redirect) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	r.URL.Scheme, r.URL.Host = rt.To.Scheme, rt.To.Host
	return http.DefaultTransport.RoundTrip(r)
}

// SetEnv sets the process environment for an awskms.Open that reads it:
// the static keys of AccessKeyID, a region, and no files, endpoints or
// instance metadata to fall back on. A CA bundle cannot apply to an
// injected transport, so none is set.
func SetEnv(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", Secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "eu-west-1")
	missing := filepath.Join(t.TempDir(), "missing")
	t.Setenv("AWS_CONFIG_FILE", missing)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_KMS", "")
	t.Setenv("AWS_CA_BUNDLE", "")
}

// Serve runs f on a loopback server until the test ends and returns a
// transport that sends every request there; its To is the server's URL.
func Serve(t testing.TB, f *KMS) Redirect {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return Redirect{To: u}
}
