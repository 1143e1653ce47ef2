package awskms_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealsign/seal/internal/awskms"
	"github.com/sealsign/seal/internal/awskms/awskmstest"
)

// These tests run the AWS SDK's KMS, STS and credential clients, as Open
// configures them, against fakes of the services. They set the AWS
// environment through awskms.WithLookupEnv, so they run in parallel and
// never see the machine's AWS settings.

// checkRSA: Open signs RSA keys with PKCS#1 v1.5 and SHA-256, which is what
// cosign verifies, although AWS lists PSS first (and sigstore's client
// picks it).
func checkRSA(t *testing.T, fk *awskmstest.KMS, ref string, opts ...awskms.Option) {
	t.Helper()
	ctx := context.Background()
	sv, err := awskms.Open(ctx, ref, opts...)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	data := []byte("payload signed by an AWS KMS RSA key")
	sig, err := signData(ctx, sv, data)
	if err != nil {
		t.Fatalf("SignMessage() = %v", err)
	}
	verifyLikeCosign(t, fk.Key("alias/seal-rsa").Signer.Public(), data, sig)
	if err := verifyData(sv, sig, data); err != nil {
		t.Errorf("VerifySignature() = %v", err)
	}
	if last := fk.Last(); last.Target != "TrentService.Sign" || last.Algorithm != "RSASSA_PKCS1_V1_5_SHA_256" {
		t.Errorf("last call = %+v, want Sign with RSASSA_PKCS1_V1_5_SHA_256", last)
	}
}

// awsFixture is a fake KMS with keys of every kind and the environment
// that points the client at it.
type awsFixture struct {
	kms *awskmstest.KMS
	srv *httptest.Server
}

func newAWSFixture(t *testing.T) *awsFixture {
	t.Helper()
	fk := awskmstest.New(map[string]crypto.Signer{
		"alias/seal-p256":     mustECDSA(t, elliptic.P256()),
		"alias/seal-p384":     mustECDSA(t, elliptic.P384()),
		"alias/seal-p521":     mustECDSA(t, elliptic.P521()),
		"alias/seal-rsa":      rsa2048(),
		"alias/seal-encrypt":  rsa2048(),
		"alias/seal-pss-only": rsa2048(),
	})
	enc := fk.Key("alias/seal-encrypt")
	enc.Usage, enc.Algorithms = "ENCRYPT_DECRYPT", nil
	fk.Key("alias/seal-pss-only").Algorithms = []string{"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384"}
	// Bare key IDs, as awskms:///KEY-ID names them.
	fk.AddKey("1234abcd-12ab-34cd-56ef-1234567890ab", fk.Key("alias/seal-p256"))
	for id, secret := range map[string]string{
		"AKIDENV": "secret-env", "ASIAWEB": "secret-web", "AKIDFILE": "secret-file",
		"ASIAECS": "secret-ecs", "ASIAIMDS": "secret-imds",
	} {
		fk.AddSecret(id, secret)
	}
	srv := httptest.NewServer(fk)
	t.Cleanup(srv.Close)
	return &awsFixture{kms: fk, srv: srv}
}

// env is a complete AWS environment for the fake: static keys, a region and
// the fake as KMS endpoint; each of overrides, in order, changes it ("" deletes
// a variable).
func (f *awsFixture) env(overrides ...map[string]string) awskms.Option {
	m := map[string]string{
		"AWS_ACCESS_KEY_ID":     awskmstest.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": awskmstest.Secret,
		"AWS_REGION":            "eu-west-1",
		"AWS_ENDPOINT_URL_KMS":  f.srv.URL,
	}
	for _, extra := range overrides {
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
	}
	return env(m)
}

func TestKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAWSFixture(t)
	p256 := f.kms.Key("alias/seal-p256")

	t.Run("reference forms", func(t *testing.T) {
		u, _ := url.Parse(f.srv.URL)
		viaProxy := awskms.WithTransport(awskmstest.Redirect{To: u})
		for _, tc := range []struct {
			ref, keyID string
			opts       []awskms.Option
		}{
			{"awskms:///1234abcd-12ab-34cd-56ef-1234567890ab", "1234abcd-12ab-34cd-56ef-1234567890ab", nil},
			{"awskms:///alias/seal-p256", "alias/seal-p256", nil},
			{"awskms:///" + p256.ARN, p256.ARN, nil},
			{"awskms:///arn:aws:kms:eu-west-1:111122223333:alias/seal-p256", "arn:aws:kms:eu-west-1:111122223333:alias/seal-p256", nil},
			{"awskms://localhost:4566/alias/seal-p256", "alias/seal-p256", []awskms.Option{viaProxy}},
			{"awskms://localhost:4566/" + p256.ARN, p256.ARN, []awskms.Option{viaProxy}},
		} {
			t.Run(tc.ref, func(t *testing.T) {
				if tc.keyID == "arn:aws:kms:eu-west-1:111122223333:alias/seal-p256" {
					f.kms.AddKey(tc.keyID, p256)
				}
				sv, err := awskms.Open(ctx, tc.ref, append([]awskms.Option{f.env(nil)}, tc.opts...)...)
				if err != nil {
					t.Fatalf("Open() = %v", err)
				}
				if !publicKey(t, sv).(interface{ Equal(crypto.PublicKey) bool }).Equal(p256.Signer.Public()) {
					t.Error("Open() returned another public key")
				}
			})
		}
	})

	t.Run("P-521", func(t *testing.T) {
		sv, err := awskms.Open(ctx, "awskms:///alias/seal-p521", f.env(nil))
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		data := []byte("P-521 payload")
		sig, err := signData(ctx, sv, data)
		if err != nil {
			t.Fatalf("SignMessage() = %v", err)
		}
		verifyLikeCosign(t, f.kms.Key("alias/seal-p521").Signer.Public(), data, sig)
	})

	t.Run("signs with the reference given and the curve's hash", func(t *testing.T) {
		sv, err := awskms.Open(ctx, "awskms:///alias/seal-p384", f.env(nil))
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		if _, err := signData(ctx, sv, []byte("x")); err != nil {
			t.Fatalf("SignMessage() = %v", err)
		}
		if last := f.kms.Last(); last.Target != "TrentService.Sign" || last.KeyID != "alias/seal-p384" || last.Algorithm != "ECDSA_SHA_384" {
			t.Errorf("last call = %+v, want Sign of alias/seal-p384 with ECDSA_SHA_384", last)
		}
	})

	t.Run("region from the ARN", func(t *testing.T) {
		arn := strings.Replace(p256.ARN, "eu-west-1", "ap-south-2", 1)
		f.kms.AddKey(arn, p256)
		if _, err := awskms.Open(ctx, "awskms:///"+arn, f.env(map[string]string{"AWS_REGION": "us-east-1"})); err != nil {
			t.Fatalf("Open() = %v", err)
		}
		if last := f.kms.Last(); last.Region != "ap-south-2" {
			t.Errorf("signed for region %q, want the ARN's ap-south-2", last.Region)
		}
	})

	t.Run("AWS_DEFAULT_REGION", func(t *testing.T) {
		if _, err := awskms.Open(ctx, "awskms:///alias/seal-p256", f.env(map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": "eu-central-2"})); err != nil {
			t.Fatalf("Open() = %v", err)
		}
		if last := f.kms.Last(); last.Region != "eu-central-2" {
			t.Errorf("signed for region %q, want eu-central-2", last.Region)
		}
	})

	for _, tc := range []struct {
		name, ref string
		env       map[string]string
		want      []string
	}{
		{"not a signing key", "awskms:///alias/seal-encrypt", nil, []string{"ENCRYPT_DECRYPT", "needs a SIGN_VERIFY key"}},
		{"no algorithm cosign verifies", "awskms:///alias/seal-pss-only", nil, []string{"RSASSA_PSS_SHA_256, RSASSA_PSS_SHA_384", "none of which cosign verifies", "RSASSA_PKCS1_V1_5_SHA_256"}},
		{"no region", "awskms:///alias/seal-p256", map[string]string{"AWS_REGION": ""}, []string{"no AWS region", "AWS_REGION"}},
		{"malformed reference", "awskms:///not-a-key", nil, []string{"awskms:///alias/NAME"}},
		{"half the keys", "awskms:///alias/seal-p256", map[string]string{"AWS_SECRET_ACCESS_KEY": ""}, []string{"AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"}},
		{"bad endpoint", "awskms:///alias/seal-p256", map[string]string{"AWS_ENDPOINT_URL_KMS": "kms.internal"}, []string{`AWS_ENDPOINT_URL_KMS "kms.internal" is not an http(s) URL`}},
		{"CA bundle with a transport", "awskms://kms.example.test/alias/seal-p256", map[string]string{"AWS_CA_BUNDLE": "/etc/ssl/ca.pem"}, []string{"AWS_CA_BUNDLE is set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []awskms.Option{f.env(tc.env)}
			if tc.name == "CA bundle with a transport" {
				opts = append(opts, awskms.WithTransport(http.DefaultTransport))
			}
			_, err := awskms.Open(ctx, tc.ref, opts...)
			if err == nil {
				t.Fatal("Open() succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open() = %v, want it to say %q", err, w)
				}
			}
		})
	}

	t.Run("AWS_CA_BUNDLE", func(t *testing.T) {
		tlsSrv := httptest.NewUnstartedServer(f.kms)
		tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake the client refuses
		tlsSrv.StartTLS()
		t.Cleanup(tlsSrv.Close)
		bundle := writeFile(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}))
		if _, err := awskms.Open(ctx, "awskms:///alias/seal-p256", f.env(map[string]string{"AWS_ENDPOINT_URL_KMS": tlsSrv.URL})); err == nil {
			t.Fatal("Open() trusted the test server without the bundle")
		}
		if _, err := awskms.Open(ctx, "awskms:///alias/seal-p256", f.env(map[string]string{"AWS_ENDPOINT_URL_KMS": tlsSrv.URL, "AWS_CA_BUNDLE": bundle})); err != nil {
			t.Fatalf("Open() with AWS_CA_BUNDLE = %v", err)
		}
	})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAWSFixture(t)
	const token = "IQoJb3JpZ2luX2VjEJr//sessiontoken"
	creds := map[string]string{"AWS_SESSION_TOKEN": token}

	f.kms.Key("alias/seal-p384").Fail = &awskmstest.Error{Status: http.StatusBadRequest, Type: "AccessDeniedException",
		Message: "User: arn:aws:sts::111122223333:assumed-role/ci/seal is not authorized to perform: kms:GetPublicKey\non this resource (echo: seal-test-secret " + token + ")"}
	_, err := awskms.Open(ctx, "awskms:///alias/seal-p384", f.env(creds))
	want := "AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/ci/seal is not authorized to perform: kms:GetPublicKey on this resource (echo: [redacted] [redacted])"
	if err == nil || !strings.HasPrefix(err.Error(), "operation error KMS: GetPublicKey, ") || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Open() = %v\nwant the KMS operation and for it to end in %q", err, want)
	}

	_, err = awskms.Open(ctx, "awskms:///alias/nope", f.env(creds))
	if err == nil || !strings.HasSuffix(err.Error(), "NotFoundException: Alias arn:aws:kms:eu-west-1:111122223333:alias/nope is not found.") {
		t.Errorf("Open() = %v, want the NotFoundException line", err)
	}
	assertNoSecrets(t, err, "seal-test-secret", token)

	// A proxy's error page: no AWS error body, retried, then reported by status.
	var hits atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	_, err = awskms.Open(ctx, "awskms:///alias/seal-p256", f.env(map[string]string{"AWS_ENDPOINT_URL_KMS": proxy.URL}), awskms.WithQuickRetries())
	if err == nil || !strings.Contains(err.Error(), "exceeded maximum number of attempts, 3, https response error StatusCode: 502") || hits.Load() != 3 {
		t.Errorf("Open() = %v after %d attempts, want HTTP 502 after 3", err, hits.Load())
	}

	// A KMS that stops answering: each attempt is bounded, and retried.
	var stalled atomic.Int32
	release := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stalled.Add(1)
		<-release
	}))
	t.Cleanup(stall.Close)
	t.Cleanup(func() { close(release) })
	start := time.Now()
	_, err = awskms.Open(ctx, "awskms:///alias/seal-p256", f.env(map[string]string{"AWS_ENDPOINT_URL_KMS": stall.URL}),
		awskms.WithQuickRetries(), awskms.WithAttemptTimeout(200*time.Millisecond))
	// (The client's timeout reads "Client.Timeout exceeded" through a bare
	// *http.Transport, "context deadline exceeded" through Seal's.)
	if err == nil || !(strings.Contains(err.Error(), "Client.Timeout exceeded") || strings.Contains(err.Error(), "context deadline exceeded")) || stalled.Load() != 3 {
		t.Errorf("Open() = %v after %d attempts, want the client's timeout after 3", err, stalled.Load())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("giving up on a stalled KMS took %v", d)
	}

	// Throttling is retried.
	f.kms.Throttle(2)
	sv, err := awskms.Open(ctx, "awskms:///alias/seal-p256", f.env(nil), awskms.WithQuickRetries())
	if err != nil {
		t.Fatalf("Open() after throttling = %v", err)
	}
	if _, err := signData(ctx, sv, []byte("x")); err != nil {
		t.Errorf("SignMessage() = %v", err)
	}

	// A wrong secret fails the fake's SigV4 check, as on AWS.
	_, err = awskms.Open(ctx, "awskms:///alias/seal-p256", f.env(map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong-secret-1234"}))
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException: The request signature we calculated does not match") {
		t.Errorf("Open() with a wrong secret = %v", err)
	}
	assertNoSecrets(t, err, "wrong-secret-1234")
}

// awsSources are fakes of the four credential sources that are servers:
// STS, the container credentials agent and instance metadata.
type awsSources struct {
	sts, container, imds *httptest.Server

	mu       sync.Mutex
	stsForms []url.Values
	stsAuth  []string
	ctrAuth  []string
	imdsLog  []string

	containerExpiry time.Duration
	containerHits   atomic.Int32
}

const (
	webToken       = "eyJhbGciOiJSUzI1NiJ9.web-identity-token.sig"
	containerToken = "container-auth-token-5678"
)

func newAWSSources(t *testing.T) *awsSources {
	t.Helper()
	s := &awsSources{containerExpiry: time.Hour}
	s.sts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		s.mu.Lock()
		s.stsForms = append(s.stsForms, r.PostForm)
		s.stsAuth = append(s.stsAuth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if r.Method != http.MethodPost || r.PostForm.Get("WebIdentityToken") != webToken {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Couldn't verify `+r.PostForm.Get("WebIdentityToken")+`</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
			return
		}
		fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAWEB</AccessKeyId>
      <SecretAccessKey>secret-web</SecretAccessKey>
      <SessionToken>token-web</SessionToken>
      <Expiration>%s</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	s.container = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.containerHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		s.mu.Lock()
		s.ctrAuth = append(s.ctrAuth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		if r.Header.Get("Authorization") != containerToken {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"code": "AccessDenied", "message": "bad token " + r.Header.Get("Authorization")})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": "ASIAECS", "SecretAccessKey": "secret-ecs", "Token": "token-ecs",
			"Expiration": time.Now().Add(s.containerExpiry).UTC().Format(time.RFC3339), "RoleArn": "arn:aws:iam::111122223333:role/task"})
	}))
	s.imds = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.imdsLog = append(s.imdsLog, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		const tok = "imds-session-token"
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" && r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") != "":
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
			fmt.Fprint(w, tok)
		case r.Header.Get("X-Aws-Ec2-Metadata-Token") != tok:
			w.WriteHeader(http.StatusUnauthorized)
		case r.Method == http.MethodGet && r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			fmt.Fprint(w, "seal-ci-role\n")
		case r.Method == http.MethodGet && r.URL.Path == "/latest/meta-data/iam/security-credentials/seal-ci-role":
			json.NewEncoder(w).Encode(map[string]string{"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "ASIAIMDS", "SecretAccessKey": "secret-imds",
				"Token": "token-imds", "Expiration": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339)})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(s.sts.Close)
	t.Cleanup(s.container.Close)
	t.Cleanup(s.imds.Close)
	return s
}

// router sends requests for AWS's own hosts to the fakes, so that the
// default endpoints (kms.REGION.amazonaws.com, the ECS agent, instance
// metadata) are exercised; it records every host it was asked for.
type router struct {
	routes map[string]string // host -> fake's URL
	mu     sync.Mutex
	hosts  []string
}

func (rt *router) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.hosts = append(rt.hosts, r.URL.Host)
	rt.mu.Unlock()
	to, ok := rt.routes[r.URL.Host]
	if !ok {
		return nil, errors.New("unexpected host " + r.URL.Host)
	}
	u, _ := url.Parse(to)
	return awskmstest.Redirect{To: u}.RoundTrip(r)
}

func (rt *router) seen() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.hosts...)
}

func TestAWSCredentialChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAWSFixture(t)
	src := newAWSSources(t)
	dir := t.TempDir()
	tokenFile := writeFile(t, "web-token", []byte(webToken+"\n"))
	credsFile := filepath.Join(dir, "credentials")
	if err := os.WriteFile(credsFile, []byte("[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = secret-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctrTokenFile := writeFile(t, "ctr-token", []byte(containerToken))

	sources := map[string]map[string]string{
		"env":       {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secret-env", "AWS_SESSION_TOKEN": "token-env"},
		"web":       {"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/seal", "AWS_ROLE_SESSION_NAME": "seal-ci"},
		"file":      {"AWS_SHARED_CREDENTIALS_FILE": credsFile},
		"container": {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/task", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": ctrTokenFile},
		"imds":      {},
	}
	for _, tc := range []struct {
		configured         []string
		wantKey, wantToken string
		wantHost           string
	}{
		{[]string{"env", "web", "file", "container", "imds"}, "AKIDENV", "token-env", ""},
		{[]string{"web", "file", "container", "imds"}, "ASIAWEB", "token-web", "sts.eu-west-1.amazonaws.com"},
		{[]string{"file", "container", "imds"}, "AKIDFILE", "", ""},
		{[]string{"container", "imds"}, "ASIAECS", "token-ecs", "169.254.170.2"},
		{[]string{"imds"}, "ASIAIMDS", "token-imds", "169.254.169.254"},
	} {
		t.Run(strings.Join(tc.configured, ">"), func(t *testing.T) {
			rt := &router{routes: map[string]string{
				"kms.eu-west-1.amazonaws.com": f.srv.URL,
				"sts.eu-west-1.amazonaws.com": src.sts.URL,
				"169.254.170.2":               src.container.URL,
				"169.254.169.254":             src.imds.URL,
			}}
			m := map[string]string{"AWS_REGION": "eu-west-1"}
			for _, s := range tc.configured {
				for k, v := range sources[s] {
					m[k] = v
				}
			}
			sv, err := awskms.Open(ctx, "awskms:///alias/seal-p256", env(m), awskms.WithTransport(rt))
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			if _, err := signData(ctx, sv, []byte("x")); err != nil {
				t.Fatalf("SignMessage() = %v", err)
			}
			last := f.kms.Last()
			if last.AccessKey != tc.wantKey || last.SessionToken != tc.wantToken {
				t.Errorf("KMS was called with access key %s and session token %q, want %s and %q", last.AccessKey, last.SessionToken, tc.wantKey, tc.wantToken)
			}
			seen := rt.seen()
			if tc.wantHost != "" && !slices.Contains(seen, tc.wantHost) {
				t.Errorf("the transport saw %v, not %s", seen, tc.wantHost)
			}
			if !slices.Contains(seen, "kms.eu-west-1.amazonaws.com") {
				t.Errorf("the transport saw %v, not the regional KMS endpoint", seen)
			}
		})
	}

	// The SDK resolves the endpoint from the region: partitions and FIPS.
	for _, tc := range []struct {
		ref  string
		env  map[string]string
		host string
	}{
		{"awskms:///alias/seal-p256", map[string]string{"AWS_USE_FIPS_ENDPOINT": "true"}, "kms-fips.eu-west-1.amazonaws.com"},
		{"awskms:///arn:aws-cn:kms:cn-north-1:111122223333:alias/seal-p256", nil, "kms.cn-north-1.amazonaws.com.cn"},
		{"awskms:///arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/seal-p256", nil, "kms.us-gov-west-1.amazonaws.com"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			f.kms.AddKey(strings.TrimPrefix(tc.ref, "awskms:///"), f.kms.Key("alias/seal-p256"))
			rt := &router{routes: map[string]string{tc.host: f.srv.URL}}
			m := map[string]string{"AWS_REGION": "eu-west-1"}
			for k, v := range sources["env"] {
				m[k] = v
			}
			for k, v := range tc.env {
				m[k] = v
			}
			if _, err := awskms.Open(ctx, tc.ref, env(m), awskms.WithTransport(rt)); err != nil {
				t.Fatalf("Open() = %v", err)
			}
			if seen := rt.seen(); !slices.Equal(seen, []string{tc.host}) {
				t.Errorf("the transport saw %v, want %s", seen, tc.host)
			}
		})
	}

	t.Run("nothing configured", func(t *testing.T) {
		_, err := awskms.Open(ctx, "awskms:///alias/seal-p256", f.env(map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_EC2_METADATA_DISABLED": "true"}))
		if err == nil || !strings.Contains(err.Error(), "no AWS credentials found") || !strings.Contains(err.Error(), "AWS_EC2_METADATA_DISABLED") {
			t.Fatalf("Open() = %v, want the no-credentials error naming what turned instance metadata off", err)
		}
	})
	t.Run("not on EC2", func(t *testing.T) {
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		start := time.Now()
		_, err := awskms.Open(ctx, "awskms:///alias/seal-p256", f.env(map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_EC2_METADATA_SERVICE_ENDPOINT": closed.URL}))
		if err == nil || !strings.Contains(err.Error(), "no AWS credentials found") || !strings.Contains(err.Error(), "EC2 instance metadata: ") || !strings.Contains(err.Error(), "/latest/api/token") {
			t.Fatalf("Open() = %v, want the no-credentials error with the metadata failure", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("giving up on instance metadata took %v", d)
		}
	})
}

func TestAWSWebIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAWSFixture(t)
	src := newAWSSources(t)
	tokenFile := writeFile(t, "token", []byte(webToken))
	base := map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
		"AWS_ROLE_ARN":                "arn:aws:iam::111122223333:role/seal",
		"AWS_ENDPOINT_URL_STS":        src.sts.URL,
	}
	with := func(extra map[string]string) awskms.Option { return f.env(base, extra) }
	quick := awskms.WithQuickRetries() // STS's InvalidIdentityToken is retried

	if _, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(map[string]string{"AWS_ROLE_SESSION_NAME": "seal-release"})); err != nil {
		t.Fatalf("Open() = %v", err)
	}
	if _, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(nil)); err != nil {
		t.Fatalf("Open() without a session name = %v", err)
	}
	src.mu.Lock()
	forms, auths := src.stsForms, src.stsAuth
	src.mu.Unlock()
	if len(forms) != 2 {
		t.Fatalf("STS got %d requests, want 2", len(forms))
	}
	want := url.Values{
		"Action":           {"AssumeRoleWithWebIdentity"},
		"Version":          {"2011-06-15"},
		"RoleArn":          {"arn:aws:iam::111122223333:role/seal"},
		"RoleSessionName":  {"seal-release"},
		"WebIdentityToken": {webToken},
	}
	if got := forms[0].Encode(); got != want.Encode() {
		t.Errorf("STS form = %s\nwant %s", got, want.Encode())
	}
	if name := forms[1].Get("RoleSessionName"); !strings.HasPrefix(name, "seal-") || len(name) < 10 {
		t.Errorf("default RoleSessionName = %q", name)
	}
	for _, a := range auths {
		if a != "" {
			t.Errorf("AssumeRoleWithWebIdentity carried Authorization %q; it is unsigned", a)
		}
	}
	if last := f.kms.Last(); last.AccessKey != "ASIAWEB" || last.SessionToken != "token-web" {
		t.Errorf("KMS call = %+v, want the role's temporary credentials", last)
	}

	t.Run("rejected token", func(t *testing.T) {
		bad := writeFile(t, "bad", []byte("eyJ.rejected-token-secret.sig"))
		_, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": bad}), quick)
		if err == nil || !strings.Contains(err.Error(), "AWS credentials from web identity (role arn:aws:iam::111122223333:role/seal): ") ||
			!strings.Contains(err.Error(), "operation error STS: AssumeRoleWithWebIdentity") || !strings.HasSuffix(err.Error(), "InvalidIdentityToken: Couldn't verify [redacted]") {
			t.Fatalf("Open() = %v\nwant the source, the STS call and its InvalidIdentityToken with the token redacted", err)
		}
		assertNoSecrets(t, err, "rejected-token-secret")
	})
	t.Run("no role", func(t *testing.T) {
		_, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(map[string]string{"AWS_ROLE_ARN": ""}))
		if err == nil || !strings.Contains(err.Error(), "AWS_ROLE_ARN") {
			t.Fatalf("Open() = %v, want AWS_ROLE_ARN named", err)
		}
	})
}

func TestAWSContainerCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAWSFixture(t)
	src := newAWSSources(t)
	noKeys := map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": src.container.URL + "/v1/credentials"}
	with := func(extra map[string]string) awskms.Option { return f.env(noKeys, extra) }

	t.Run("token in the environment", func(t *testing.T) {
		if _, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN": containerToken})); err != nil {
			t.Fatalf("Open() = %v", err)
		}
	})
	t.Run("token file wins", func(t *testing.T) {
		file := writeFile(t, "token", []byte(containerToken+"\n"))
		if _, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN": "stale", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": file})); err != nil {
			t.Fatalf("Open() = %v", err)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		_, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(map[string]string{"AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong-token-abcdef"}))
		if err == nil || !strings.Contains(err.Error(), "AccessDenied: bad token [redacted]") {
			t.Fatalf("Open() = %v, want the agent's AccessDenied with the token redacted", err)
		}
		assertNoSecrets(t, err, "wrong-token-abcdef")
	})
	t.Run("plain HTTP elsewhere than loopback", func(t *testing.T) {
		_, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.1.2.3/creds"}))
		if err == nil || !strings.Contains(err.Error(), "only to loopback and the ECS/EKS agent addresses") {
			t.Fatalf("Open() = %v", err)
		}
	})
	src.mu.Lock()
	auths := src.ctrAuth
	src.mu.Unlock()
	if len(auths) < 2 || auths[0] != containerToken || auths[1] != containerToken {
		t.Errorf("the agent saw Authorization %q", auths)
	}

	t.Run("refreshes expiring credentials", func(t *testing.T) {
		src2 := newAWSSources(t)
		src2.containerExpiry = time.Minute // inside the five-minute refresh window
		opt := f.env(map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
			"AWS_CONTAINER_CREDENTIALS_FULL_URI": src2.container.URL, "AWS_CONTAINER_AUTHORIZATION_TOKEN": containerToken})
		sv, err := awskms.Open(ctx, "awskms:///alias/seal-p256", opt)
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		for range 2 {
			if _, err := signData(ctx, sv, []byte("x")); err != nil {
				t.Fatalf("SignMessage() = %v", err)
			}
		}
		if n := src2.containerHits.Load(); n != 3 {
			t.Errorf("fetched credentials %d times for three calls with short-lived credentials, want 3", n)
		}
		src3 := newAWSSources(t) // an hour: fetched once
		sv, err = awskms.Open(ctx, "awskms:///alias/seal-p256", f.env(map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
			"AWS_CONTAINER_CREDENTIALS_FULL_URI": src3.container.URL, "AWS_CONTAINER_AUTHORIZATION_TOKEN": containerToken}))
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		for range 2 {
			if _, err := signData(ctx, sv, []byte("x")); err != nil {
				t.Fatalf("SignMessage() = %v", err)
			}
		}
		if n := src3.containerHits.Load(); n != 1 {
			t.Errorf("fetched credentials %d times, want 1", n)
		}
	})
}

func TestSharedProfile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAWSFixture(t)
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	creds := write("credentials", `# written by aws configure
[default]
aws_access_key_id = AKIDSEALTEST
aws_secret_access_key = not-this-one

[ci]
aws_access_key_id=AKIDFILE ; inline comment
aws_secret_access_key = secret-file
aws_session_token = token-file
`)
	config := write("config", `[default]
region = us-east-1

[profile ci]
region = eu-west-1
s3 =
  max_concurrent_requests = 20
  region = nested-is-ignored

[profile sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = release

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1

[profile process]
credential_process = /usr/bin/get-creds
`)
	base := map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_REGION": "",
		"AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_CONFIG_FILE": config, "AWS_EC2_METADATA_DISABLED": "true"}
	with := func(extra map[string]string) awskms.Option { return f.env(base, extra) }

	if _, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(map[string]string{"AWS_PROFILE": "ci"})); err != nil {
		t.Fatalf("Open() with AWS_PROFILE=ci = %v", err)
	}
	if last := f.kms.Last(); last.AccessKey != "AKIDFILE" || last.SessionToken != "token-file" || last.Region != "eu-west-1" {
		t.Errorf("KMS call = %+v, want profile ci's keys and region", last)
	}

	for _, tc := range []struct{ profile, want string }{
		{"sso", "AWS profile sso uses sso_session, which Seal does not follow"},
		{"process", "AWS profile process uses credential_process"},
		{"nope", "AWS profile nope (AWS_PROFILE) is not in " + config + " or " + creds},
	} {
		_, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(map[string]string{"AWS_PROFILE": tc.profile, "AWS_REGION": "eu-west-1"}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AWS_PROFILE=%s: Open() = %v, want %q", tc.profile, err, tc.want)
		}
	}

	// ~/.aws through HOME, and the default profile's region.
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte("[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = secret-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".aws", "config"), []byte("[default]\nregion = sa-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := awskms.Open(ctx, "awskms:///alias/seal-p256", with(map[string]string{"AWS_SHARED_CREDENTIALS_FILE": "", "AWS_CONFIG_FILE": "", "HOME": home, "USERPROFILE": home}))
	if err != nil {
		t.Fatalf("Open() with ~/.aws = %v", err)
	}
	if last := f.kms.Last(); last.AccessKey != "AKIDFILE" || last.Region != "sa-east-1" {
		t.Errorf("KMS call = %+v, want ~/.aws/credentials and the default region", last)
	}
}
