package keys

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"golang.org/x/crypto/scrypt"
)

// RFC 7914 section 12, all but the 1 GiB vector.
func TestScryptRFC7914(t *testing.T) {
	for _, v := range []struct {
		password, salt string
		N, r, p        int
		want           string
	}{
		{"", "", 16, 1, 1, "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"},
		{"password", "NaCl", 1024, 8, 16, "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"},
		{"pleaseletmein", "SodiumChloride", 16384, 8, 1, "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"},
	} {
		got, err := scryptKey([]byte(v.password), []byte(v.salt), v.N, v.r, v.p, 64)
		if err != nil {
			t.Fatal(err)
		}
		if h := hex.EncodeToString(got); h != v.want {
			t.Errorf("scrypt(%q, %q, %d, %d, %d) = %s, want %s", v.password, v.salt, v.N, v.r, v.p, h, v.want)
		}
	}
}

// scryptKey gives what golang.org/x/crypto/scrypt gives, for random inputs
// and parameters and for cosign's own.
func TestScryptMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(password, salt []byte, N, r, p, n int) {
		t.Helper()
		want, err := scrypt.Key(password, salt, N, r, p, n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := scryptKey(password, salt, N, r, p, n)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("N=%d r=%d p=%d len=%d: got %x, want %x", N, r, p, n, got, want)
		}
	}
	for range 60 {
		password := make([]byte, rng.IntN(40))
		salt := make([]byte, rng.IntN(40))
		for i := range password {
			password[i] = byte(rng.Uint32())
		}
		for i := range salt {
			salt[i] = byte(rng.Uint32())
		}
		check(password, salt, 2<<rng.IntN(10), 1+rng.IntN(9), 1+rng.IntN(3), 1+rng.IntN(100))
	}
	// Twice: the second derivation reuses the first one's table.
	check([]byte("cosign-password"), bytes.Repeat([]byte{7}, 32), 1<<16, 8, 1, 32)
	check([]byte("another"), bytes.Repeat([]byte{9}, 32), 1<<16, 8, 1, 32)
	// And after the kept table is released.
	ReleaseScratch()
	check([]byte("cosign-password"), bytes.Repeat([]byte{7}, 32), 1<<16, 8, 1, 32)
}

// Derivations running at once each get a table of their own.
func TestScryptConcurrent(t *testing.T) {
	want, err := scrypt.Key([]byte("pw"), []byte("salt"), 1<<12, 8, 1, 32)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				got, err := scryptKey([]byte("pw"), []byte("salt"), 1<<12, 8, 1, 32)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("got %x, %v; want %x", got, err, want)
				}
			}
		})
	}
	wg.Wait()
}

func TestScryptRejectsBadParameters(t *testing.T) {
	for _, c := range []struct{ N, r, p int }{
		{0, 8, 1}, {1, 8, 1}, {3, 8, 1}, {1 << 16, 0, 1}, {1 << 16, 8, 0}, {1 << 16, 1 << 20, 1 << 10}, {-4, 8, 1},
	} {
		if _, err := scryptKey([]byte("pw"), []byte("salt"), c.N, c.r, c.p, 32); err == nil {
			t.Errorf("N=%d r=%d p=%d: no error", c.N, c.r, c.p)
		}
	}
}

// openEnvelope opens what securesystemslib's encrypted package writes at each
// of its strengths, says a wrong password is one, and refuses what that
// package's Decrypt refuses.
func TestOpenEnvelope(t *testing.T) {
	plain := []byte("a PKCS#8 key, say")
	for _, level := range []encrypted.KDFParameterStrength{encrypted.Legacy, encrypted.Standard, encrypted.OWASP} {
		env, err := encrypted.EncryptWithCustomKDFParameters(plain, []byte("pw"), level)
		if err != nil {
			t.Fatal(err)
		}
		got, err := openEnvelope(env, []byte("pw"))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("strength %d: got %q, %v", level, got, err)
		}
		if level != encrypted.Standard {
			continue
		}
		if _, err := openEnvelope(env, []byte("other")); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("wrong password: got %v, want ErrWrongPassword", err)
		}
		for name, bad := range map[string]string{
			"kdf":    strings.Replace(string(env), `"name":"scrypt"`, `"name":"argon2"`, 1),
			"cipher": strings.Replace(string(env), `"name":"nacl/secretbox"`, `"name":"aes"`, 1),
			"N":      strings.Replace(string(env), `"N":65536`, `"N":1048576`, 1),
			"r":      strings.Replace(string(env), `"r":8`, `"r":9`, 1),
			"nonce":  strings.Replace(string(env), `"nonce":"`, `"nonce":"AAAA`, 1),
			"json":   string(env[:len(env)/2]),
		} {
			if bad == string(env) {
				t.Fatalf("%s: the envelope did not change", name)
			}
			_, ours := openEnvelope([]byte(bad), []byte("pw"))
			_, theirs := encrypted.Decrypt([]byte(bad), []byte("pw"))
			if ours == nil || theirs == nil || errors.Is(ours, ErrWrongPassword) {
				t.Errorf("%s: ours %v, encrypted.Decrypt %v; want both to refuse it as malformed", name, ours, theirs)
			}
		}
	}
}

// FuzzScrypt compares scryptKey with x/crypto's on small parameters.
func FuzzScrypt(f *testing.F) {
	f.Add([]byte("password"), []byte("NaCl"), uint8(3), uint8(2), uint8(1), uint8(32))
	f.Fuzz(func(t *testing.T, password, salt []byte, logN, r, p, n uint8) {
		N, R, P, L := 2<<(logN%10), 1+int(r%8), 1+int(p%3), 1+int(n)
		want, err := scrypt.Key(password, salt, N, R, P, L)
		if err != nil {
			t.Fatal(err)
		}
		got, err := scryptKey(password, salt, N, R, P, L)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("N=%d r=%d p=%d len=%d: got %x, %v; want %x", N, R, P, L, got, err, want)
		}
	})
}

// BenchmarkScrypt: cosign's parameters, Seal's scrypt and x/crypto's.
func BenchmarkScrypt(b *testing.B) {
	salt := bytes.Repeat([]byte{7}, 32)
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			if _, err := scryptKey([]byte("pw"), salt, 1<<16, 8, 1, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		for b.Loop() {
			if _, err := scrypt.Key([]byte("pw"), salt, 1<<16, 8, 1, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
}
