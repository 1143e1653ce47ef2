package awskms_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/awskms"
	"github.com/sealsign/seal/internal/awskms/awskmstest"
)

// TestOpen reads the process environment, as Seal does: the settings come
// from awskmstest.SetEnv, not from WithLookupEnv.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	awskmstest.SetEnv(t)
	fk := awskmstest.New(map[string]crypto.Signer{
		"alias/seal-p256": mustECDSA(t, elliptic.P256()),
		"alias/seal-p384": mustECDSA(t, elliptic.P384()),
		"alias/seal-rsa":  rsa2048(),
	})
	server := awskmstest.Serve(t, fk)
	transport := awskms.WithTransport(server)

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
		t.Setenv("AWS_ENDPOINT_URL_KMS", server.To.String())
		signAndVerify(t, "awskms:///alias/seal-p256", "alias/seal-p256")
	})
	t.Run("AWS_ENDPOINT_URL", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL", server.To.String())
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
