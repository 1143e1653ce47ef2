package awskms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/sealsign/seal/internal/awskms"
)

// env is an environment of its own, so tests never see the machine's.
func env(m map[string]string) awskms.Option {
	return awskms.WithLookupEnv(func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	})
}

// signData signs data as Seal's keys package does for a message.
func signData(ctx context.Context, sv signature.SignerVerifier, data []byte) ([]byte, error) {
	return sv.SignMessage(bytes.NewReader(data), sigopts.WithContext(ctx))
}

func verifyData(sv signature.SignerVerifier, sig, data []byte) error {
	return sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(data))
}

func publicKey(t testing.TB, sv signature.SignerVerifier) crypto.PublicKey {
	t.Helper()
	pub, err := sv.PublicKey()
	if err != nil {
		t.Fatalf("PublicKey() = %v", err)
	}
	return pub
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// rsa2048 is generated once per test binary: RSA key generation is slow
// under -race.
var rsa2048 = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func mustECDSA(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// verifyLikeCosign checks a signature with the standard library alone, using
// the algorithm cosign's LoadVerifier picks for the key type; it shares no
// code with the package under test.
func verifyLikeCosign(t testing.TB, pub crypto.PublicKey, data, sig []byte) {
	t.Helper()
	var ok bool
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		var digest []byte
		switch k.Curve {
		case elliptic.P256():
			d := sha256.Sum256(data)
			digest = d[:]
		case elliptic.P384():
			d := sha512.Sum384(data)
			digest = d[:]
		case elliptic.P521():
			d := sha512.Sum512(data)
			digest = d[:]
		}
		ok = ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		d := sha256.Sum256(data)
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
	default:
		t.Fatalf("unexpected public key type %T", pub)
	}
	if !ok {
		t.Fatalf("signature does not verify with the %T public key", pub)
	}
}

// assertNoSecrets fails if err mentions any of the secrets.
func assertNoSecrets(t testing.TB, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains secret %q", err, s)
		}
	}
}
