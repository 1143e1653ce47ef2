package keys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
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

	"github.com/sealsign/seal/internal/keys"
)

// The tests in this file run against both AWS KMS clients: the native one
// of the default build and the AWS SDK one of -tags seal_awskms.

// fakeKMS speaks the AWS KMS JSON 1.1 protocol for the calls either client
// makes (GetPublicKey, DescribeKey, Sign), and checks every request's SigV4
// signature by recomputing it with the AWS SDK's signer, as KMS does: a
// wrong signature, secret or scope fails as on AWS.
type fakeKMS struct {
	secrets map[string]string // access key ID -> secret access key

	mu       sync.Mutex
	keys     map[string]*fakeKey // by alias and by ARN
	calls    []fakeCall
	throttle int // fail this many of the next requests with ThrottlingException
}

type fakeKey struct {
	signer crypto.Signer
	arn    string
	spec   string
	usage  string
	algs   []string
	fail   *fakeError // every call on the key fails with this
}

type fakeError struct {
	status       int
	typ, message string
}

// fakeCall is one request the fake accepted.
type fakeCall struct {
	target, keyID, accessKey, sessionToken, region, alg string
}

func newFakeKMS(signers map[string]crypto.Signer) *fakeKMS {
	f := &fakeKMS{
		secrets: map[string]string{"AKIDSEALTEST": "seal-test-secret"},
		keys:    map[string]*fakeKey{},
	}
	i := 0
	for alias, s := range signers {
		i++
		k := &fakeKey{signer: s, usage: "SIGN_VERIFY", arn: fmt.Sprintf("arn:aws:kms:eu-west-1:111122223333:key/%08d-12ab-34cd-56ef-1234567890ab", i)}
		switch pub := s.Public().(type) {
		case *ecdsa.PublicKey:
			bits := pub.Curve.Params().BitSize
			k.spec = fmt.Sprintf("ECC_NIST_P%d", bits)
			k.algs = []string{fmt.Sprintf("ECDSA_SHA_%d", map[int]int{256: 256, 384: 384, 521: 512}[bits])}
		case *rsa.PublicKey:
			// As AWS lists them: PSS first.
			k.spec = fmt.Sprintf("RSA_%d", pub.N.BitLen())
			k.algs = []string{"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
				"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"}
		}
		f.keys[alias], f.keys[k.arn] = k, k
	}
	return f
}

// key returns the key an alias names, to adjust it before a test.
func (f *fakeKMS) key(alias string) *fakeKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[alias]
}

func (f *fakeKMS) recorded() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeKMS) fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.kms#" + typ, "message": msg})
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	call, err := f.checkSigV4(r, body)
	if err != nil {
		f.fail(w, http.StatusBadRequest, "InvalidSignatureException", err.Error())
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		f.fail(w, http.StatusBadRequest, "SerializationException", "not a JSON 1.1 POST to /")
		return
	}
	var req struct {
		KeyID            string `json:"KeyId"`
		Message          []byte
		MessageType      string
		SigningAlgorithm string
	}
	if err := json.Unmarshal(body, &req); err != nil {
		f.fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	call.target, call.keyID, call.alg = r.Header.Get("X-Amz-Target"), req.KeyID, req.SigningAlgorithm

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
		f.fail(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		return
	case !ok:
		f.fail(w, http.StatusBadRequest, "NotFoundException", fmt.Sprintf("Alias arn:aws:kms:%s:111122223333:%s is not found.", call.region, req.KeyID))
		return
	case key.fail != nil:
		f.fail(w, key.fail.status, key.fail.typ, key.fail.message)
		return
	}

	var resp any
	switch call.target {
	case "TrentService.GetPublicKey":
		der, _ := x509.MarshalPKIXPublicKey(key.signer.Public())
		resp = map[string]any{"KeyId": key.arn, "PublicKey": der, "KeySpec": key.spec, "CustomerMasterKeySpec": key.spec, "KeyUsage": key.usage, "SigningAlgorithms": key.algs}
	case "TrentService.DescribeKey":
		resp = map[string]any{"KeyMetadata": map[string]any{"KeyId": key.arn, "Arn": key.arn, "KeySpec": key.spec, "KeyUsage": key.usage, "SigningAlgorithms": key.algs, "Enabled": true, "KeyState": "Enabled"}}
	case "TrentService.Sign":
		if key.usage != "SIGN_VERIFY" {
			f.fail(w, http.StatusBadRequest, "InvalidKeyUsageException", "the key is not a signing key")
			return
		}
		if req.MessageType != "DIGEST" || !slices.Contains(key.algs, req.SigningAlgorithm) {
			f.fail(w, http.StatusBadRequest, "ValidationException", "bad MessageType or SigningAlgorithm "+req.SigningAlgorithm)
			return
		}
		sig, err := fakeSign(key.signer, req.SigningAlgorithm, req.Message)
		if err != nil {
			f.fail(w, http.StatusBadRequest, "ValidationException", err.Error())
			return
		}
		resp = map[string]any{"KeyId": key.arn, "Signature": sig, "SigningAlgorithm": req.SigningAlgorithm}
	default:
		f.fail(w, http.StatusBadRequest, "UnknownOperationException", call.target)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(resp)
}

func fakeSign(s crypto.Signer, alg string, digest []byte) ([]byte, error) {
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
func (f *fakeKMS) checkSigV4(r *http.Request, body []byte) (fakeCall, error) {
	var call fakeCall
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 Credential=")
	if !ok {
		return call, fmt.Errorf("no SigV4 Authorization header")
	}
	cred, rest, _ := strings.Cut(rest, ", SignedHeaders=")
	signedList, _, _ := strings.Cut(rest, ", Signature=")
	scope := strings.Split(cred, "/") // AKID/DATE/REGION/SERVICE/aws4_request
	if len(scope) != 5 || scope[3] != "kms" || scope[4] != "aws4_request" {
		return call, fmt.Errorf("bad credential scope %q", cred)
	}
	call.accessKey, call.region = scope[0], scope[2]
	secret, ok := f.secrets[call.accessKey]
	if !ok {
		return call, fmt.Errorf("unknown access key")
	}
	signed := strings.Split(signedList, ";")
	for _, must := range []string{"host", "x-amz-date", "x-amz-target", "content-type"} {
		if !slices.Contains(signed, must) {
			return call, fmt.Errorf("%s is not signed", must)
		}
	}
	call.sessionToken = r.Header.Get("X-Amz-Security-Token")
	if call.sessionToken != "" && !slices.Contains(signed, "x-amz-security-token") {
		return call, fmt.Errorf("the session token is not signed")
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != scope[1] {
		return call, fmt.Errorf("X-Amz-Date does not match the scope")
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
	creds := aws.Credentials{AccessKeyID: call.accessKey, SecretAccessKey: secret, SessionToken: call.sessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), scope[3], scope[2], at); err != nil {
		return call, err
	}
	if again.Header.Get("Authorization") != auth {
		return call, fmt.Errorf("The request signature we calculated does not match the signature you provided.")
	}
	return call, nil
}

// redirect sends every request to the fake, keeping the Host the client
// signed, as a proxy would; it proves WithTransport reaches the client.
type redirect struct{ to *url.URL }

func (rt redirect) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	r.URL.Scheme, r.URL.Host = rt.to.Scheme, rt.to.Host
	return http.DefaultTransport.RoundTrip(r)
}

// awsTestEnv sets the process environment both clients read (the SDK
// reads nothing else): static keys, a region, and no files or instance
// metadata to fall back on.
func awsTestEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSEALTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "seal-test-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "eu-west-1")
	missing := filepath.Join(t.TempDir(), "missing")
	t.Setenv("AWS_CONFIG_FILE", missing)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_KMS", "")
	// The SDK cannot apply a CA bundle to an injected transport; it refuses.
	t.Setenv("AWS_CA_BUNDLE", "")
}

func TestAWSKMS(t *testing.T) {
	ctx := context.Background()
	awsTestEnv(t)
	fk := newFakeKMS(map[string]crypto.Signer{
		"alias/seal-p256": mustECDSA(t, elliptic.P256()),
		"alias/seal-p384": mustECDSA(t, elliptic.P384()),
		"alias/seal-rsa":  rsa2048(),
	})
	srv := httptest.NewServer(fk)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	transport := keys.WithTransport(redirect{to: u})

	signAndVerify := func(t *testing.T, ref, alias string, opts ...keys.Option) {
		t.Helper()
		kp, err := keys.Load(ctx, ref, opts...)
		if err != nil {
			t.Fatalf("Load(%s) = %v", ref, err)
		}
		data := []byte("payload for " + ref)
		sig, _, err := kp.SignData(ctx, data)
		if err != nil {
			t.Fatalf("SignData() = %v", err)
		}
		verifyLikeCosign(t, fk.keys[alias].signer.Public(), data, sig)
		pub, err := keys.LoadPublic(ctx, ref, opts...)
		if err != nil {
			t.Fatalf("LoadPublic() = %v", err)
		}
		if err := pub.Verify(sig, data); err != nil {
			t.Errorf("Verify() = %v", err)
		}
	}
	for _, alias := range []string{"alias/seal-p256", "alias/seal-p384"} {
		t.Run(alias, func(t *testing.T) {
			signAndVerify(t, "awskms://kms.example.test/"+alias, alias, transport)
		})
	}
	t.Run("AWS_ENDPOINT_URL_KMS", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL_KMS", srv.URL)
		signAndVerify(t, "awskms:///alias/seal-p256", "alias/seal-p256")
	})
	t.Run("AWS_ENDPOINT_URL", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL", srv.URL)
		signAndVerify(t, "awskms:///"+fk.keys["alias/seal-p256"].arn, "alias/seal-p256")
	})
	t.Run("RSA", func(t *testing.T) {
		checkAWSKMSRSA(t, fk, "awskms://kms.example.test/alias/seal-rsa", transport)
	})
	t.Run("unknown key", func(t *testing.T) {
		_, err := keys.Load(ctx, "awskms://kms.example.test/alias/missing", transport)
		if err == nil || !strings.Contains(err.Error(), "NotFoundException") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("Load() = %v, want NotFoundException on one line", err)
		}
		assertNoSecrets(t, err, "seal-test-secret")
	})
	t.Run("wrong secret", func(t *testing.T) {
		t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
		_, err := keys.Load(ctx, "awskms://kms.example.test/alias/seal-p256", transport)
		if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
			t.Fatalf("Load() = %v, want the fake to reject the signature", err)
		}
		assertNoSecrets(t, err, "not-the-secret", "seal-test-secret")
	})
}
