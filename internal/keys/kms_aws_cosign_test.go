package keys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sealsign/seal/internal/awskms/awskmstest"
	"github.com/sealsign/seal/internal/keys"
)

// checkAWSKMSRSA: awskms signs RSA keys with PKCS#1 v1.5 and SHA-256, which
// is what cosign verifies, although AWS lists PSS first.
func checkAWSKMSRSA(t *testing.T, fk *awskmstest.KMS, ref string, opts ...keys.Option) {
	t.Helper()
	ctx := context.Background()
	kp, err := keys.Load(ctx, ref, opts...)
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	data := []byte("payload signed by an AWS KMS RSA key")
	sig, _, err := kp.SignData(ctx, data)
	if err != nil {
		t.Fatalf("SignData() = %v", err)
	}
	verifyLikeCosign(t, fk.Key("alias/seal-rsa").Signer.Public(), data, sig)
	if err := kp.PublicKey().Verify(sig, data); err != nil {
		t.Errorf("Verify() = %v", err)
	}
	if last := fk.Last(); last.Target != "TrentService.Sign" || last.Algorithm != "RSASSA_PKCS1_V1_5_SHA_256" {
		t.Errorf("last call = %+v, want Sign with RSASSA_PKCS1_V1_5_SHA_256", last)
	}
}

// TestAWSKMSSignBundle signs through Seal's normal path, keys.Load and
// sigstore-go's sign.Bundle as internal/signing does, and verifies the
// bundle with sigstore-go using only the exported public key PEM; then the
// real cosign checks the same signatures (a peer like any other: built on
// first use, required in CI).
func TestAWSKMSSignBundle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fk := awskmstest.New(map[string]crypto.Signer{
		"alias/seal-p256": mustECDSA(t, elliptic.P256()),
		"alias/seal-rsa":  rsa2048(),
	})
	srv := httptest.NewServer(fk)
	t.Cleanup(srv.Close)
	awsEnv := env(map[string]string{
		"AWS_ACCESS_KEY_ID":     awskmstest.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": awskmstest.Secret,
		"AWS_REGION":            "eu-west-1",
		"AWS_ENDPOINT_URL_KMS":  srv.URL,
	})
	for _, alias := range []string{"alias/seal-p256", "alias/seal-rsa"} {
		t.Run(alias, func(t *testing.T) {
			kp, err := keys.Load(ctx, "awskms:///"+alias, awsEnv)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			pubPEM := kp.PublicKey().PEM()
			pub, err := keys.LoadPublic(ctx, writeFile(t, "cosign.pub", pubPEM))
			if err != nil {
				t.Fatal(err)
			}
			trusted := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
				pub.Hint(): root.NewExpiringKey(pub.Verifier(), time.Time{}, time.Time{}),
			})
			verifier, err := verify.NewVerifier(trusted, verify.WithNoObserverTimestamps())
			if err != nil {
				t.Fatal(err)
			}
			artifact := []byte("blob signed with " + alias)
			statement := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + fmt.Sprintf("%x", sha256.Sum256(artifact)) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
			for name, content := range map[string]sign.Content{
				"message": &sign.PlainData{Data: artifact},
				"dsse":    &sign.DSSEData{Data: statement, PayloadType: "application/vnd.in-toto+json"},
			} {
				pb, err := sign.Bundle(content, kp, sign.BundleOptions{Context: ctx})
				if err != nil {
					t.Fatalf("sign.Bundle(%s) = %v", name, err)
				}
				b, err := bundleFromProto(pb)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := verifier.Verify(b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(artifact)), verify.WithKey())); err != nil {
					t.Errorf("Verify(%s bundle) = %v", name, err)
				}
			}

			sig, _, err := kp.SignData(ctx, artifact)
			if err != nil {
				t.Fatalf("SignData() = %v", err)
			}
			verifyLikeCosign(t, fk.Key(alias).Signer.Public(), artifact, sig)
			pb, err := sign.Bundle(&sign.PlainData{Data: artifact}, kp, sign.BundleOptions{Context: ctx})
			if err != nil {
				t.Fatal(err)
			}
			bundleJSON, err := protojson.Marshal(pb)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			for name, data := range map[string][]byte{
				"blob": artifact, "cosign.pub": pubPEM, "blob.sig": []byte(base64.StdEncoding.EncodeToString(sig)), "blob.sigstore.json": bundleJSON,
				"tr.json": []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`),
			} {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := cosignCmd(t, dir, "", "verify-blob", "--key", "cosign.pub", "--signature", "blob.sig", "--insecure-ignore-tlog=true", "blob"); err != nil {
				t.Errorf("cosign verify-blob --signature = %v\n%s", err, out)
			}
			if out, err := cosignCmd(t, dir, "", "verify-blob", "--key", "cosign.pub", "--bundle", "blob.sigstore.json", "--new-bundle-format", "--trusted-root", "tr.json", "--insecure-ignore-tlog=true", "blob"); err != nil {
				t.Errorf("cosign verify-blob --bundle = %v\n%s", err, out)
			}
		})
	}
}
