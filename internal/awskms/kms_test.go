package awskms_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/awskms"
	"github.com/sealsign/seal/internal/awskms/awskmstest"
)

// The tests in this file run against both clients: the native one of the
// default build and sigstore's, on the AWS SDK, of -tags seal_awskms.

// awsTestEnv sets the process environment both clients read (the SDK
// reads nothing else): static keys, a region, and no files or instance
// metadata to fall back on.
func awsTestEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", awskmstest.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", awskmstest.Secret)
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

func TestOpen(t *testing.T) {
	ctx := context.Background()
	awsTestEnv(t)
	fk := awskmstest.New(map[string]crypto.Signer{
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
	transport := awskms.WithTransport(awskmstest.Redirect{To: u})

	signAndVerify := func(t *testing.T, ref, alias string, opts ...awskms.Option) {
		t.Helper()
		sv, err := awskms.Open(ctx, ref, opts...)
		if err != nil {
			t.Fatalf("Open(%s) = %v", ref, err)
		}
		data := []byte("payload for " + ref)
		sig, err := signData(ctx, sv, data)
		if err != nil {
			t.Fatalf("SignMessage() = %v", err)
		}
		verifyLikeCosign(t, fk.Key(alias).Signer.Public(), data, sig)
		if err := verifyData(sv, sig, data); err != nil {
			t.Errorf("VerifySignature() = %v", err)
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
		signAndVerify(t, "awskms:///"+fk.Key("alias/seal-p256").ARN, "alias/seal-p256")
	})
	t.Run("RSA", func(t *testing.T) {
		checkRSA(t, fk, "awskms://kms.example.test/alias/seal-rsa", transport)
	})
	t.Run("unknown key", func(t *testing.T) {
		_, err := awskms.Open(ctx, "awskms://kms.example.test/alias/missing", transport)
		if err == nil || !strings.Contains(err.Error(), "NotFoundException") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("Open() = %v, want NotFoundException on one line", err)
		}
		assertNoSecrets(t, err, awskmstest.Secret)
	})
	t.Run("wrong secret", func(t *testing.T) {
		t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
		_, err := awskms.Open(ctx, "awskms://kms.example.test/alias/seal-p256", transport)
		if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
			t.Fatalf("Open() = %v, want the fake to reject the signature", err)
		}
		assertNoSecrets(t, err, "not-the-secret", awskmstest.Secret)
	})
}
