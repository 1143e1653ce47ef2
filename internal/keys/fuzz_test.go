package keys_test

import (
	"context"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/keys"
)

// FuzzLoad feeds arbitrary bytes through env://, the path that takes the
// most shapes (PEM or base64 PEM, every key format), and through
// ParsePublicKey. It checks for panics and that no error repeats the
// password. Encrypted seeds make some iterations pay for scrypt; the
// envelope's parameter check keeps a mutated N from costing more.
func FuzzLoad(f *testing.F) {
	golden := mustRead(f, "testdata/cosign.key")
	f.Add(golden)
	f.Add(mustRead(f, "testdata/cosign.pub"))
	f.Add([]byte(base64.StdEncoding.EncodeToString(golden)))
	f.Add(pkcs8(f, mustECDSA(f, elliptic.P256())))
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pkcs8(f, ed))
	sec1, err := x509.MarshalECPrivateKey(mustECDSA(f, elliptic.P384()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pemBlock("EC PRIVATE KEY", sec1))
	f.Add(pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048())))
	f.Add(pemBlock("ENCRYPTED SIGSTORE PRIVATE KEY", []byte(`{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":""},"ciphertext":""}`)))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n"))

	ctx := context.Background()
	const secret = "fuzz-password-not-in-errors"
	f.Fuzz(func(t *testing.T, data []byte) {
		kp, err := keys.Load(ctx, "env://K", password(secret), env(map[string]string{"K": string(data)}))
		if err == nil {
			if _, _, err := kp.SignData(ctx, []byte("x")); err != nil {
				t.Fatalf("loaded key cannot sign: %v", err)
			}
		} else if strings.Contains(err.Error(), secret) {
			t.Fatalf("error contains the password: %v", err)
		}
		if pub, err := keys.ParsePublicKey(data); err == nil {
			_ = pub.Verify([]byte("sig"), []byte("data"))
		}
	})
}
