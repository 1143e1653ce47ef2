//go:build seal_awskms

package keys_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/keys"
)

// fakeKMS speaks the AWS KMS JSON 1.1 protocol for the three calls sigstore's
// client makes: GetPublicKey, DescribeKey and Sign.
type fakeKMS struct {
	keys map[string]crypto.Signer // by key ID or alias
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDSEALTEST/") {
		http.Error(w, `{"__type":"UnrecognizedClientException"}`, http.StatusBadRequest)
		return
	}
	var req struct {
		KeyID            string `json:"KeyId"`
		Message          []byte
		MessageType      string
		SigningAlgorithm string
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key, ok := f.keys[req.KeyID]
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": "NotFoundException", "message": "no such key"})
		return
	}
	spec, alg := "ECC_NIST_P256", "ECDSA_SHA_256"
	if k, ok := key.Public().(*ecdsa.PublicKey); ok && k.Curve == elliptic.P384() {
		spec, alg = "ECC_NIST_P384", "ECDSA_SHA_384"
	}
	if _, ok := key.Public().(*ecdsa.PublicKey); !ok {
		spec, alg = "RSA_2048", "RSASSA_PSS_SHA_256"
	}
	var resp any
	switch r.Header.Get("X-Amz-Target") {
	case "TrentService.GetPublicKey":
		der, _ := x509.MarshalPKIXPublicKey(key.Public())
		resp = map[string]any{"KeyId": req.KeyID, "PublicKey": der, "KeySpec": spec, "KeyUsage": "SIGN_VERIFY", "SigningAlgorithms": []string{alg}}
	case "TrentService.DescribeKey":
		resp = map[string]any{"KeyMetadata": map[string]any{"KeyId": req.KeyID, "KeySpec": spec, "KeyUsage": "SIGN_VERIFY", "SigningAlgorithms": []string{alg}, "Enabled": true, "KeyState": "Enabled"}}
	case "TrentService.Sign":
		if req.MessageType != "DIGEST" || req.SigningAlgorithm != alg {
			http.Error(w, `{"__type":"ValidationException"}`, http.StatusBadRequest)
			return
		}
		sig, err := ecdsa.SignASN1(rand.Reader, key.(*ecdsa.PrivateKey), req.Message)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp = map[string]any{"KeyId": req.KeyID, "Signature": sig, "SigningAlgorithm": alg}
	default:
		http.Error(w, "unknown target", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(resp)
}

// redirect sends every request to the fake, proving WithTransport reaches
// the AWS client.
type redirect struct{ to *url.URL }

func (rt redirect) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = rt.to.Scheme, rt.to.Host
	return http.DefaultTransport.RoundTrip(r)
}

func TestAWSKMS(t *testing.T) {
	ctx := context.Background()
	// The AWS SDK reads its settings from the process environment only.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSEALTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "seal-test-secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	missing := filepath.Join(t.TempDir(), "missing")
	t.Setenv("AWS_CONFIG_FILE", missing)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	// The SDK cannot apply a CA bundle to an injected transport; it refuses.
	t.Setenv("AWS_CA_BUNDLE", "")

	fk := &fakeKMS{keys: map[string]crypto.Signer{
		"alias/seal-p256": mustECDSA(t, elliptic.P256()),
		"alias/seal-p384": mustECDSA(t, elliptic.P384()),
		"alias/seal-rsa":  rsa2048(),
	}}
	srv := httptest.NewServer(fk)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	transport := keys.WithTransport(redirect{to: u})

	for _, alias := range []string{"alias/seal-p256", "alias/seal-p384"} {
		t.Run(alias, func(t *testing.T) {
			ref := "awskms://kms.example.test/" + alias
			kp, err := keys.Load(ctx, ref, transport)
			if err != nil {
				t.Fatalf("Load(%s) = %v", ref, err)
			}
			data := []byte("payload for " + alias)
			sig, _, err := kp.SignData(ctx, data)
			if err != nil {
				t.Fatalf("SignData() = %v", err)
			}
			verifyLikeCosign(t, fk.keys[alias].Public(), data, sig)
			pub, err := keys.LoadPublic(ctx, ref, transport)
			if err != nil {
				t.Fatalf("LoadPublic() = %v", err)
			}
			if err := pub.Verify(sig, data); err != nil {
				t.Errorf("Verify() = %v", err)
			}
		})
	}
	t.Run("RSA is refused", func(t *testing.T) {
		_, err := keys.Load(ctx, "awskms://kms.example.test/alias/seal-rsa", transport)
		if err == nil || !strings.Contains(err.Error(), "RSASSA-PSS") {
			t.Fatalf("Load() = %v, want the RSASSA-PSS explanation", err)
		}
	})
}
