//go:build !seal_nohashivault

package keys_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sealsign/seal/internal/keys"
)

const vaultToken = "hvs.seal-test-token"

// fakeVault serves the two transit endpoints sigstore's client uses: read a
// key's public half and sign. It checks what a real Vault would: the token,
// and that prehashed is set exactly when a digest is sent.
type fakeVault struct {
	keys map[string]crypto.Signer
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Vault-Token") != vaultToken {
		http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	if len(parts) < 3 || parts[0] != "transit" {
		http.NotFound(w, r)
		return
	}
	key, ok := f.keys[parts[2]]
	if !ok {
		http.NotFound(w, r)
		return
	}
	reply := func(data any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"data": data})
	}
	switch {
	case parts[1] == "keys" && r.Method == http.MethodGet:
		entry := map[string]any{}
		if ed, ok := key.Public().(ed25519.PublicKey); ok {
			entry["name"] = "ed25519"
			entry["public_key"] = base64.StdEncoding.EncodeToString(ed)
		} else {
			der, _ := x509.MarshalPKIXPublicKey(key.Public())
			entry["public_key"] = string(pemBlock("PUBLIC KEY", der))
		}
		reply(map[string]any{"latest_version": 1, "keys": map[string]any{"1": entry}})
	case parts[1] == "sign" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		var req struct {
			Input     string `json:"input"`
			Prehashed bool   `json:"prehashed"`
			Algorithm string `json:"signature_algorithm"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in, err := base64.StdEncoding.DecodeString(req.Input)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		hashes := map[string]crypto.Hash{"sha2-256": crypto.SHA256, "sha2-384": crypto.SHA384, "sha2-512": crypto.SHA512}
		var sig []byte
		switch k := key.(type) {
		case ed25519.PrivateKey:
			if req.Prehashed || len(parts) != 3 {
				http.Error(w, "ed25519 signs messages", http.StatusBadRequest)
				return
			}
			sig = ed25519.Sign(k, in)
		case *ecdsa.PrivateKey:
			if !req.Prehashed || len(parts) != 4 {
				http.Error(w, "want a prehashed digest", http.StatusBadRequest)
				return
			}
			sig, err = ecdsa.SignASN1(rand.Reader, k, in)
		case *rsa.PrivateKey:
			h, ok := hashes[parts[3]]
			if !ok || !req.Prehashed || req.Algorithm != "pkcs1v15" {
				http.Error(w, "want a prehashed digest for pkcs1v15", http.StatusBadRequest)
				return
			}
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, in)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		reply(map[string]any{"signature": "vault:v1:" + base64.StdEncoding.EncodeToString(sig), "key_version": 1})
	default:
		http.NotFound(w, r)
	}
}

func TestHashiVault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fv := &fakeVault{keys: map[string]crypto.Signer{
		"p256": mustECDSA(t, elliptic.P256()),
		"p384": mustECDSA(t, elliptic.P384()),
		"rsa":  rsa2048(),
		"ed":   ed,
	}}
	srv := httptest.NewServer(fv)
	t.Cleanup(srv.Close)
	vaultEnv := env(map[string]string{"VAULT_ADDR": srv.URL, "VAULT_TOKEN": vaultToken})

	for _, name := range []string{"p256", "p384", "rsa", "ed"} {
		t.Run(name, func(t *testing.T) {
			for _, scheme := range []string{"hashivault", "openbao"} {
				ref := scheme + "://" + name
				kp, err := keys.Load(ctx, ref, vaultEnv)
				if err != nil {
					t.Fatalf("Load(%s) = %v", ref, err)
				}
				pub, err := keys.LoadPublic(ctx, ref, vaultEnv)
				if err != nil {
					t.Fatalf("LoadPublic(%s) = %v", ref, err)
				}
				if pub.Hint() != string(kp.GetHint()) {
					t.Errorf("LoadPublic hint %q != Load hint %q", pub.Hint(), kp.GetHint())
				}
				// Seal signs in parallel with one key; so must a KMS key.
				var wg sync.WaitGroup
				for i := range 4 {
					wg.Go(func() {
						data := fmt.Appendf(nil, "%s payload %d", ref, i)
						sig, _, err := kp.SignData(ctx, data)
						if err != nil {
							t.Errorf("SignData() = %v", err)
							return
						}
						verifyLikeCosign(t, fv.keys[name].Public(), data, sig)
						if err := pub.Verify(sig, data); err != nil {
							t.Errorf("Verify() = %v", err)
						}
					})
				}
				wg.Wait()
			}
		})
	}

	t.Run("wrong token", func(t *testing.T) {
		_, err := keys.Load(ctx, "hashivault://p256", env(map[string]string{"VAULT_ADDR": srv.URL, "VAULT_TOKEN": "hvs.not-the-token"}))
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("Load() = %v, want permission denied", err)
		}
		assertNoSecrets(t, err, "hvs.not-the-token")
	})
	for _, tc := range []struct {
		name, wantMsg string
		env           map[string]string
	}{
		{"no address", "VAULT_ADDR (or BAO_ADDR) is not set", map[string]string{"VAULT_TOKEN": vaultToken}},
		{"no token", "VAULT_TOKEN (or BAO_TOKEN) is not set", map[string]string{"VAULT_ADDR": srv.URL}},
		{"OpenBao variables", "", map[string]string{"BAO_ADDR": srv.URL, "BAO_TOKEN": vaultToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keys.Load(ctx, "hashivault://p256", env(tc.env))
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("Load() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Load() = %v, want %q", err, tc.wantMsg)
			}
		})
	}
	t.Run("bad reference", func(t *testing.T) {
		_, err := keys.Load(ctx, "hashivault://a/b", vaultEnv)
		if err == nil || !strings.Contains(err.Error(), "hashivault://<key>") {
			t.Fatalf("Load() = %v, want the reference format", err)
		}
	})
}
