package keys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/sealsign/seal/internal/keys"
)

// goldenPassword protects testdata/cosign.key, made by the real cosign v2.6.5:
// COSIGN_PASSWORD=seal-test-password cosign generate-key-pair
const goldenPassword = "seal-test-password"

const testPassword = "correct horse battery staple"

func password(p string) keys.Option {
	return keys.WithPassword(func() ([]byte, error) { return []byte(p), nil })
}

// noEnv is an empty environment, so tests never see the machine's.
func env(m map[string]string) keys.Option {
	return keys.WithLookupEnv(func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	})
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatalf("MarshalPKCS8PrivateKey() = %v", err)
	}
	return pemBlock("PRIVATE KEY", der)
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Generating RSA keys and scrypt-encrypting are slow (scrypt takes seconds
// under -race); each is done once per test binary and shared.
var (
	generated = sync.OnceValues(func() ([]byte, []byte) {
		priv, pub, err := keys.Generate([]byte(testPassword))
		if err != nil {
			panic(err)
		}
		return priv, pub
	})
	rsa2048 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	rsa3072 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(3072) })
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

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
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, data, sig)
	default:
		t.Fatalf("unexpected public key type %T", pub)
	}
	if !ok {
		t.Fatalf("signature does not verify with the %T public key", pub)
	}
}

func TestLoadFormats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p256 := mustECDSA(t, elliptic.P256())
	p384 := mustECDSA(t, elliptic.P384())
	p521 := mustECDSA(t, elliptic.P521())
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}
	// `openssl ecparam -genkey` writes the curve parameters first.
	ecParams := append(pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}), pemBlock("EC PRIVATE KEY", sec1)...)

	encPriv, encPub := generated()
	// cosign before the SIGSTORE rename wrote the same envelope under this label.
	oldLabel := bytes.ReplaceAll(encPriv, []byte("ENCRYPTED SIGSTORE PRIVATE KEY"), []byte("ENCRYPTED COSIGN PRIVATE KEY"))
	emptyPriv, emptyPub, err := keys.Generate(nil)
	if err != nil {
		t.Fatalf("Generate(nil) = %v", err)
	}
	goldenKey, err := os.ReadFile("testdata/cosign.key")
	if err != nil {
		t.Fatal(err)
	}
	goldenPub, err := os.ReadFile("testdata/cosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := func(k crypto.PublicKey) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemBlock("PUBLIC KEY", der)
	}

	type want struct {
		Algorithm protocommon.PublicKeyDetails
		Hash      protocommon.HashAlgorithm
		KeyAlg    string
		PubPEM    string
	}
	p256Want := want{protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, protocommon.HashAlgorithm_SHA2_256, "ECDSA", string(pubPEM(p256.Public()))}
	tests := []struct {
		name string
		data []byte // written to a file, unless ref is set
		ref  string
		opts []keys.Option
		want want
	}{
		{"cosign CLI golden key", goldenKey, "", []keys.Option{password(goldenPassword)},
			want{protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, protocommon.HashAlgorithm_SHA2_256, "ECDSA", string(goldenPub)}},
		{"generated ENCRYPTED SIGSTORE", encPriv, "", []keys.Option{password(testPassword)},
			want{protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, protocommon.HashAlgorithm_SHA2_256, "ECDSA", string(encPub)}},
		{"older ENCRYPTED COSIGN label", oldLabel, "", []keys.Option{password(testPassword)},
			want{protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, protocommon.HashAlgorithm_SHA2_256, "ECDSA", string(encPub)}},
		{"empty password, no WithPassword", emptyPriv, "", nil,
			want{protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, protocommon.HashAlgorithm_SHA2_256, "ECDSA", string(emptyPub)}},
		{"PKCS#8 P-256", pkcs8(t, p256), "", nil, p256Want},
		{"PKCS#8 P-384", pkcs8(t, p384), "", nil,
			want{protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384, protocommon.HashAlgorithm_SHA2_384, "ECDSA", string(pubPEM(p384.Public()))}},
		{"PKCS#8 P-521", pkcs8(t, p521), "", nil,
			want{protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512, protocommon.HashAlgorithm_SHA2_512, "ECDSA", string(pubPEM(p521.Public()))}},
		{"PKCS#8 RSA 2048", pkcs8(t, rsa2048()), "", nil,
			want{protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256, protocommon.HashAlgorithm_SHA2_256, "RSA", string(pubPEM(rsa2048().Public()))}},
		{"PKCS#8 Ed25519", pkcs8(t, ed), "", nil,
			want{protocommon.PublicKeyDetails_PKIX_ED25519, protocommon.HashAlgorithm_HASH_ALGORITHM_UNSPECIFIED, "ED25519", string(pubPEM(ed.Public()))}},
		{"EC PRIVATE KEY after EC PARAMETERS", ecParams, "", nil, p256Want},
		{"RSA PRIVATE KEY 3072", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa3072())), "", nil,
			want{protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256, protocommon.HashAlgorithm_SHA2_256, "RSA", string(pubPEM(rsa3072().Public()))}},
		{"env:// PEM", nil, "env://COSIGN_PRIVATE_KEY", []keys.Option{password(goldenPassword), env(map[string]string{"COSIGN_PRIVATE_KEY": string(goldenKey)})},
			want{protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256, protocommon.HashAlgorithm_SHA2_256, "ECDSA", string(goldenPub)}},
		{"env:// base64 PEM (masked CI variable)", nil, "env://SIGNING_KEY", []keys.Option{env(map[string]string{"SIGNING_KEY": base64.StdEncoding.EncodeToString(pkcs8(t, p256)) + "\n"})}, p256Want},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ref := tc.ref
			if ref == "" {
				ref = writeFile(t, "key.pem", tc.data)
			}
			kp, err := keys.Load(ctx, ref, tc.opts...)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			pemStr, err := kp.GetPublicKeyPem()
			if err != nil {
				t.Fatalf("GetPublicKeyPem() = %v", err)
			}
			got := want{kp.GetSigningAlgorithm(), kp.GetHashAlgorithm(), kp.GetKeyAlgorithm(), pemStr}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Load() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want.PubPEM, string(kp.PublicKey().PEM())); diff != "" {
				t.Errorf("PublicKey().PEM() mismatch (-want +got):\n%s", diff)
			}

			data := []byte("simple signing payload " + tc.name)
			sig, signed, err := kp.SignData(ctx, data)
			if err != nil {
				t.Fatalf("SignData() = %v", err)
			}
			verifyLikeCosign(t, kp.GetPublicKey(), data, sig)
			if err := kp.PublicKey().Verify(sig, data); err != nil {
				t.Errorf("PublicKey().Verify() = %v", err)
			}
			if err := kp.PublicKey().Verify(sig, append(data, '!')); err == nil {
				t.Errorf("PublicKey().Verify(tampered) = nil, want error")
			}
			if kp.HashFunc() == 0 {
				if !bytes.Equal(signed, data) {
					t.Errorf("SignData() returned %x as signed bytes, want the message itself", signed)
				}
				return
			}
			h := kp.HashFunc().New()
			h.Write(data)
			if diff := cmp.Diff(h.Sum(nil), signed); diff != "" {
				t.Errorf("SignData() digest mismatch (-want +got):\n%s", diff)
			}
			dsig, err := kp.SignDigest(ctx, signed)
			if err != nil {
				t.Fatalf("SignDigest() = %v", err)
			}
			verifyLikeCosign(t, kp.GetPublicKey(), data, dsig)
			if err := kp.PublicKey().VerifyDigest(dsig, signed); err != nil {
				t.Errorf("VerifyDigest() = %v", err)
			}
		})
	}
}

func TestLoadPublic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	goldenPub, err := os.ReadFile("testdata/cosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	rsaPub := pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsa2048().PublicKey))
	tests := []struct {
		name    string
		ref     string
		opts    []keys.Option
		wantAlg protocommon.PublicKeyDetails
	}{
		{"cosign.pub file", "testdata/cosign.pub", nil, protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256},
		{"env://", "env://COSIGN_PUBLIC_KEY", []keys.Option{env(map[string]string{"COSIGN_PUBLIC_KEY": string(goldenPub)})}, protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256},
		{"RSA PUBLIC KEY", writeFile(t, "rsa.pub", rsaPub), nil, protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := keys.LoadPublic(ctx, tc.ref, tc.opts...)
			if err != nil {
				t.Fatalf("LoadPublic() = %v", err)
			}
			if got := pub.Algorithm(); got != tc.wantAlg {
				t.Errorf("Algorithm() = %v, want %v", got, tc.wantAlg)
			}
		})
	}

	// The golden pair: what the private key signs, the public key verifies.
	kp, err := keys.Load(ctx, "testdata/cosign.key", password(goldenPassword))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	pub, err := keys.LoadPublic(ctx, "testdata/cosign.pub")
	if err != nil {
		t.Fatalf("LoadPublic() = %v", err)
	}
	sig, _, err := kp.SignData(ctx, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Verify(sig, []byte("payload")); err != nil {
		t.Errorf("Verify() = %v", err)
	}
	if got, want := pub.Hint(), string(kp.GetHint()); got != want {
		t.Errorf("Hint() = %q, want %q", got, want)
	}
}

// TestErrors checks that every failure says what is wrong and never echoes
// the password or key material.
func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	golden, err := os.ReadFile("testdata/cosign.key")
	if err != nil {
		t.Fatal(err)
	}
	p224 := mustECDSA(t, elliptic.P224())
	p224DER, err := x509.MarshalECPrivateKey(p224)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	goodPEM := pkcs8(t, mustECDSA(t, elliptic.P256()))
	lines := strings.Split(string(golden), "\n")
	truncated := strings.Join(lines[:len(lines)/2], "\n")
	corruptBody := strings.Replace(string(golden), lines[2], strings.Repeat("!", len(lines[2])), 1)

	tests := []struct {
		name    string
		ref     string // file contents go through data instead
		data    string
		opts    []keys.Option
		public  bool
		wantIs  error
		wantMsg string
	}{
		{name: "wrong password", data: string(golden), opts: []keys.Option{password("hunter2-wrong")},
			wantIs: keys.ErrWrongPassword, wantMsg: "decrypting cosign private key: wrong password?"},
		{name: "no password for encrypted key", data: string(golden),
			wantIs: keys.ErrWrongPassword, wantMsg: "decrypting cosign private key: wrong password?"},
		{name: "envelope not JSON", data: string(pemBlock("ENCRYPTED SIGSTORE PRIVATE KEY", []byte("{"))), opts: []keys.Option{password(goldenPassword)}, wantMsg: "malformed envelope"},
		{name: "envelope with unknown kdf", data: string(pemBlock("ENCRYPTED SIGSTORE PRIVATE KEY", []byte(`{"kdf":{"name":"pbkdf2"},"cipher":{"name":"nacl/secretbox"}}`))), opts: []keys.Option{password(goldenPassword)}, wantMsg: `malformed envelope: encrypted: unknown kdf name "pbkdf2"`},
		{name: "envelope with huge scrypt cost", data: string(pemBlock("ENCRYPTED SIGSTORE PRIVATE KEY", []byte(`{"kdf":{"name":"scrypt","params":{"N":1073741824,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":""},"ciphertext":""}`))), opts: []keys.Option{password(goldenPassword)}, wantMsg: "malformed envelope: unsupported scrypt parameters"},
		{name: "envelope with short nonce", data: string(pemBlock("ENCRYPTED SIGSTORE PRIVATE KEY", []byte(`{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"AAAA"},"cipher":{"name":"nacl/secretbox","nonce":"AAAA"},"ciphertext":"AAAA"}`))), opts: []keys.Option{password(goldenPassword)}, wantMsg: "malformed envelope: encrypted: incorrect nonce size"},
		{name: "password function fails", data: string(golden),
			opts:    []keys.Option{keys.WithPassword(func() ([]byte, error) { return nil, errors.New("no terminal") })},
			wantMsg: "reading password for cosign private key: no terminal"},
		{name: "truncated PEM", data: truncated, opts: []keys.Option{password(goldenPassword)}, wantMsg: "truncated or corrupted"},
		{name: "corrupted base64", data: corruptBody, opts: []keys.Option{password(goldenPassword)}, wantMsg: "truncated or corrupted"},
		{name: "not PEM", data: "hello", wantMsg: "no PEM block found"},
		{name: "unknown PEM type", data: string(pemBlock("OPENSSH PRIVATE KEY", []byte{1, 2, 3})), wantMsg: `unsupported PEM type "OPENSSH PRIVATE KEY"`},
		{name: "PKCS#8 encrypted by openssl", data: string(pemBlock("ENCRYPTED PRIVATE KEY", []byte{1})), wantMsg: "password-protected PKCS#8"},
		{name: "legacy Proc-Type encryption", data: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}})), wantMsg: "legacy PEM encryption"},
		{name: "unsupported curve P-224", data: string(pemBlock("EC PRIVATE KEY", p224DER)), wantMsg: "unsupported ECDSA curve P-224"},
		{name: "RSA 1024", data: string(pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024))), wantMsg: "unsupported RSA key size 1024 bits"},
		{name: "garbage PKCS#8", data: string(pemBlock("PRIVATE KEY", []byte("not asn1"))), wantMsg: "parsing PRIVATE KEY: "},
		{name: "public key given to Load", data: string(mustRead(t, "testdata/cosign.pub")), wantMsg: "found a public key"},
		{name: "private key given to LoadPublic", data: string(golden), public: true, wantMsg: "found a private key"},
		{name: "missing env var", ref: "env://COSIGN_PRIVATE_KEY", opts: []keys.Option{env(nil)}, wantMsg: "environment variable COSIGN_PRIVATE_KEY is not set"},
		{name: "empty env var", ref: "env://K", opts: []keys.Option{env(map[string]string{"K": " \n"})}, wantMsg: "environment variable K is empty"},
		{name: "env var not a key", ref: "env://K", opts: []keys.Option{env(map[string]string{"K": "c2VjcmV0LXRva2Vu"})}, wantMsg: "holds neither a PEM key nor a base64-encoded one"},
		{name: "bad env name", ref: "env://A-B", wantMsg: "not a valid environment variable name"},
		{name: "missing file", ref: filepath.Join(t.TempDir(), "nope.key"), wantMsg: "no such file"},
		{name: "no ref", ref: "", wantMsg: "no key given"},
		{name: "key pasted as ref", ref: string(goodPEM), wantMsg: "looks like key material"},
		{name: "base64 key pasted as ref", ref: base64.StdEncoding.EncodeToString(goodPEM), wantMsg: "looks like key material"},
		{name: "unsupported KMS", ref: "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k", wantMsg: "gcpkms:// keys are not supported"},
		{name: "cosign k8s ref", ref: "k8s://ns/secret", wantMsg: "use env://NAME"},
		{name: "unknown scheme", ref: "ftp://host/key", wantMsg: "unknown key reference scheme ftp://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ref := tc.ref
			if tc.data != "" {
				ref = writeFile(t, "key", []byte(tc.data))
			}
			var err error
			if tc.public {
				_, err = keys.LoadPublic(ctx, ref, tc.opts...)
			} else {
				_, err = keys.Load(ctx, ref, tc.opts...)
			}
			if err == nil {
				t.Fatalf("Load() = nil error, want %q", tc.wantMsg)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Load() = %q, want it to contain %q", err, tc.wantMsg)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Load() = %v, want errors.Is(%v)", err, tc.wantIs)
			}
			assertNoSecrets(t, err, goldenPassword, "hunter2-wrong", string(golden), string(goodPEM))
		})
	}
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNoSecrets fails if err mentions a password, a PEM armour line, or any
// 16-character run of a secret's base64 body.
func assertNoSecrets(t testing.TB, err error, secrets ...string) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, "-----BEGIN") || strings.Contains(msg, "LS0tLS1") {
		t.Errorf("error %q contains key material", msg)
	}
	for _, s := range secrets {
		if len(s) < 40 {
			if strings.Contains(msg, s) {
				t.Errorf("error %q contains secret %q", msg, s)
			}
			continue
		}
		for _, line := range strings.Split(s, "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(msg, line[:16]) {
				t.Errorf("error %q contains key material %q", msg, line[:16])
			}
		}
	}
}

// TestGenerateFormat checks Generate against the envelope the real cosign
// wrote in testdata/cosign.key, field by field.
func TestGenerateFormat(t *testing.T) {
	t.Parallel()
	priv, pub := generated()
	type envelope struct {
		KDF struct {
			Name   string
			Params struct{ N, R, P int }
			Salt   []byte
		}
		Cipher struct {
			Name  string
			Nonce []byte
		}
		Ciphertext []byte
	}
	decode := func(t *testing.T, b []byte) (string, envelope) {
		t.Helper()
		block, rest := pem.Decode(b)
		if block == nil || len(bytes.TrimSpace(rest)) != 0 {
			t.Fatalf("want exactly one PEM block in %q", b)
		}
		var e envelope
		dec := json.NewDecoder(bytes.NewReader(block.Bytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("decoding envelope: %v", err)
		}
		return block.Type, e
	}
	gotType, got := decode(t, priv)
	wantType, want := decode(t, mustRead(t, "testdata/cosign.key"))
	if gotType != wantType {
		t.Errorf("PEM type = %q, want %q", gotType, wantType)
	}
	if got.KDF.Name != want.KDF.Name || got.KDF.Params != want.KDF.Params || got.Cipher.Name != want.Cipher.Name {
		t.Errorf("envelope = %+v %+v %q, cosign's = %+v %+v %q", got.KDF.Name, got.KDF.Params, got.Cipher.Name, want.KDF.Name, want.KDF.Params, want.Cipher.Name)
	}
	if got.KDF.Params.N != 65536 || got.KDF.Params.R != 8 || got.KDF.Params.P != 1 {
		t.Errorf("scrypt params = %+v, want N=65536 r=8 p=1", got.KDF.Params)
	}
	if len(got.KDF.Salt) != len(want.KDF.Salt) || len(got.Cipher.Nonce) != len(want.Cipher.Nonce) || len(got.Ciphertext) != len(want.Ciphertext) {
		t.Errorf("salt/nonce/ciphertext lengths = %d/%d/%d, cosign's = %d/%d/%d",
			len(got.KDF.Salt), len(got.Cipher.Nonce), len(got.Ciphertext), len(want.KDF.Salt), len(want.Cipher.Nonce), len(want.Ciphertext))
	}
	block, _ := pem.Decode(pub)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("public key PEM = %q, want a PUBLIC KEY block", pub)
	}
	pk, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if ec, ok := pk.(*ecdsa.PublicKey); !ok || ec.Curve != elliptic.P256() {
		t.Errorf("public key = %T, want ECDSA P-256", pk)
	}
	priv2, _, err := keys.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(priv, priv2) {
		t.Error("Generate() returned the same key twice")
	}
}

// TestDecryptOnceConcurrentSign proves the expensive decryption happens once
// per Load and that one Keypair serves many goroutines (run with -race).
func TestDecryptOnceConcurrentSign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var calls atomic.Int32
	start := time.Now()
	kp, err := keys.Load(ctx, "testdata/cosign.key", keys.WithPassword(func() ([]byte, error) {
		calls.Add(1)
		return []byte(goldenPassword), nil
	}))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	t.Logf("Load with scrypt took %v", time.Since(start))

	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start = time.Now()
	for i := range n {
		wg.Go(func() {
			data := fmt.Appendf(nil, "manifest %d", i)
			sig, _, err := kp.SignData(ctx, data)
			if err != nil {
				errs <- err
				return
			}
			errs <- kp.PublicKey().Verify(sig, data)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d signatures took %v", n, time.Since(start))
	if got := calls.Load(); got != 1 {
		t.Errorf("password asked %d times, want 1", got)
	}
}

// TestUnencryptedKeyNeverAsksPassword keeps plain keys from prompting.
func TestUnencryptedKeyNeverAsksPassword(t *testing.T) {
	t.Parallel()
	ref := writeFile(t, "k.pem", pkcs8(t, mustECDSA(t, elliptic.P256())))
	_, err := keys.Load(context.Background(), ref, keys.WithPassword(func() ([]byte, error) {
		t.Error("password requested for an unencrypted key")
		return nil, nil
	}))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
}

func TestKeypairDoesNotPrintSecrets(t *testing.T) {
	t.Parallel()
	k := mustECDSA(t, elliptic.P256())
	kp, err := keys.ParsePrivateKey(pkcs8(t, k))
	if err != nil {
		t.Fatal(err)
	}
	d := k.D.String()
	for _, s := range []string{fmt.Sprint(kp), fmt.Sprintf("%+v", kp), fmt.Sprintf("%#v", kp), fmt.Sprintf("%v", *kp)} {
		if strings.Contains(s, d) || strings.Contains(s, k.D.Text(16)) {
			t.Errorf("formatting the keypair printed the private scalar: %s", s)
		}
	}
}

// TestSignBundle signs through sigstore-go's sign.Bundle and verifies the
// bundle with sigstore-go's verifier, as the signing and verify packages will.
func TestSignBundle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{
		"golden P-256": "testdata/cosign.key",
		"P-384":        writeFile(t, "p384", pkcs8(t, mustECDSA(t, elliptic.P384()))),
		"RSA 2048":     writeFile(t, "rsa", pkcs8(t, rsa2048())),
		"Ed25519":      writeFile(t, "ed", pkcs8(t, ed)),
	}
	for name, ref := range refs {
		t.Run(name, func(t *testing.T) {
			kp, err := keys.Load(ctx, ref, password(goldenPassword))
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			pub, err := keys.LoadPublic(ctx, writeFile(t, "pub", kp.PublicKey().PEM()))
			if err != nil {
				t.Fatalf("LoadPublic() = %v", err)
			}
			v := pub.Verifier()
			trusted := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
				pub.Hint(): root.NewExpiringKey(v, time.Time{}, time.Time{}),
			})
			verifier, err := verify.NewVerifier(trusted, verify.WithNoObserverTimestamps())
			if err != nil {
				t.Fatal(err)
			}
			artifact := []byte("blob to sign")
			statement := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + fmt.Sprintf("%x", sha256.Sum256(artifact)) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
			contents := map[string]sign.Content{
				"message": &sign.PlainData{Data: artifact},
				"dsse":    &sign.DSSEData{Data: statement, PayloadType: "application/vnd.in-toto+json"},
			}
			if kp.HashFunc() == 0 {
				// A message signature carries a digest; pure Ed25519 signs
				// the message, so only DSSE fits.
				delete(contents, "message")
			}
			for cname, content := range contents {
				pb, err := sign.Bundle(content, kp, sign.BundleOptions{Context: ctx})
				if err != nil {
					t.Fatalf("sign.Bundle(%s) = %v", cname, err)
				}
				if got := pb.GetVerificationMaterial().GetPublicKey().GetHint(); got != pub.Hint() {
					t.Errorf("bundle hint = %q, want %q", got, pub.Hint())
				}
				b, err := bundleFromProto(pb)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := verifier.Verify(b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(artifact)), verify.WithKey())); err != nil {
					t.Errorf("Verify(%s bundle) = %v", cname, err)
				}
			}
		})
	}
}

func bundleFromProto(pb *protobundle.Bundle) (*bundle.Bundle, error) {
	return bundle.NewBundle(pb)
}
