package keys_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/sealsign/seal/internal/awskms/awskmstest"
	"github.com/sealsign/seal/internal/keys"
)

// The AWS KMS client lives in internal/awskms and is tested there; these
// tests check that Load and LoadPublic reach it, with WithTransport, in
// either build: the native client of the default build and the AWS SDK one
// of -tags seal_awskms.

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
	t.Setenv("AWS_CA_BUNDLE", "")
}

func TestAWSKMS(t *testing.T) {
	ctx := context.Background()
	awsTestEnv(t)
	fk := awskmstest.New(map[string]crypto.Signer{
		"alias/seal-p256": mustECDSA(t, elliptic.P256()),
		"alias/seal-rsa":  rsa2048(),
	})
	srv := httptest.NewServer(fk)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	transport := keys.WithTransport(awskmstest.Redirect{To: u})

	const ref = "awskms://kms.example.test/alias/seal-p256"
	kp, err := keys.Load(ctx, ref, transport)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	data := []byte("payload for " + ref)
	sig, _, err := kp.SignData(ctx, data)
	if err != nil {
		t.Fatalf("SignData() = %v", err)
	}
	verifyLikeCosign(t, fk.Key("alias/seal-p256").Signer.Public(), data, sig)
	if last := fk.Last(); last.Target != "TrentService.Sign" || last.KeyID != "alias/seal-p256" {
		t.Errorf("last call = %+v, want Sign of alias/seal-p256", last)
	}
	pub, err := keys.LoadPublic(ctx, ref, transport)
	if err != nil {
		t.Fatalf("LoadPublic() = %v", err)
	}
	if err := pub.Verify(sig, data); err != nil {
		t.Errorf("Verify() = %v", err)
	}
	t.Run("RSA", func(t *testing.T) {
		checkAWSKMSRSA(t, fk, "awskms://kms.example.test/alias/seal-rsa", transport)
	})
}
