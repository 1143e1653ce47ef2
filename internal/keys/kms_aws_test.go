package keys_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"testing"

	"github.com/sealsign/seal/internal/awskms/awskmstest"
	"github.com/sealsign/seal/internal/keys"
)

// AWS KMS keys are opened by internal/awskms and tested there; these tests
// check that Load and LoadPublic reach it, with WithTransport.

func TestAWSKMS(t *testing.T) {
	ctx := context.Background()
	awskmstest.SetEnv(t)
	fk := awskmstest.New(map[string]crypto.Signer{
		"alias/seal-p256": mustECDSA(t, elliptic.P256()),
		"alias/seal-rsa":  rsa2048(),
	})
	transport := keys.WithTransport(awskmstest.Serve(t, fk))

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
