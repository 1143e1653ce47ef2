package awskms_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/sealsign/seal/internal/awskms"
	"github.com/sealsign/seal/internal/testbed"
)

// TestLocalKMS runs Open against local-kms, a KMS that is not Seal's fake: keys made there with
// CreateKey and CreateAlias, opened by each reference form cosign writes, signed with, and the
// signatures checked with the standard library as cosign checks them, against the public key
// local-kms gives its own client.
func TestLocalKMS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := testbed.StartKMS(t)
	const id, secret = "AKIDLOCALKMS", "local-kms-secret"
	admin := kms.New(kms.Options{Region: k.Region, BaseEndpoint: aws.String(k.URL),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	opts := env(map[string]string{"AWS_ACCESS_KEY_ID": id, "AWS_SECRET_ACCESS_KEY": secret,
		"AWS_REGION": k.Region, "AWS_ENDPOINT_URL_KMS": k.URL})

	for _, spec := range []types.KeySpec{types.KeySpecEccNistP256, types.KeySpecEccNistP384, types.KeySpecRsa2048} {
		t.Run(string(spec), func(t *testing.T) {
			created, err := admin.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: types.KeyUsageTypeSignVerify})
			if err != nil {
				t.Fatalf("CreateKey() = %v", err)
			}
			alias := "alias/seal-" + strings.ToLower(string(spec))
			if _, err := admin.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: created.KeyMetadata.KeyId}); err != nil {
				t.Fatalf("CreateAlias() = %v", err)
			}
			out, err := admin.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: created.KeyMetadata.KeyId})
			if err != nil {
				t.Fatalf("GetPublicKey() = %v", err)
			}
			pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			for _, ref := range []string{
				"awskms:///" + *created.KeyMetadata.KeyId,
				"awskms:///" + *created.KeyMetadata.Arn,
				"awskms:///" + alias,
				"awskms:///arn:aws:kms:" + k.Region + ":" + k.Account + ":" + alias,
			} {
				sv, err := awskms.Open(ctx, ref, opts)
				if err != nil {
					t.Fatalf("Open(%s) = %v", ref, err)
				}
				if !publicKey(t, sv).(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
					t.Errorf("Open(%s) returned another public key", ref)
				}
				data := []byte("signed through " + ref)
				sig, err := signData(ctx, sv, data)
				if err != nil {
					t.Fatalf("SignMessage() with %s = %v", ref, err)
				}
				verifyLikeCosign(t, pub, data, sig)
			}
		})
	}

	t.Run("unknown key", func(t *testing.T) {
		_, err := awskms.Open(ctx, "awskms:///alias/missing", opts)
		if err == nil || !strings.Contains(err.Error(), "NotFoundException") {
			t.Fatalf("Open() = %v, want local-kms's NotFoundException", err)
		}
		assertNoSecrets(t, err, secret)
	})
}
