package signing

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/sealsign/seal/internal/oidc"
)

func keyed(t *testing.T) (*Signer, *sign.EphemeralKeypair) {
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewKeyed(kp)
	if err != nil {
		t.Fatal(err)
	}
	return s, kp
}

func verifier(t *testing.T, kp *sign.EphemeralKeypair) *verify.Verifier {
	sv, err := signature.LoadDefaultVerifier(kp.GetPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
	})
	v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSignDSSEAndMessage(t *testing.T) {
	s, kp := keyed(t)
	digest := sha256.Sum256([]byte("image"))
	st, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://example.com/p",
		"subject": []any{map[string]any{"digest": map[string]string{"sha256": hexOf(digest[:])}}}, "predicate": map[string]any{}})
	r, err := s.SignDSSE(context.Background(), InTotoPayloadType, st)
	if err != nil {
		t.Fatalf("SignDSSE() = %v", err)
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
	}
	if err := json.Unmarshal(r.Envelope, &env); err != nil || string(env.Payload) != string(st) || env.PayloadType != InTotoPayloadType {
		t.Errorf("envelope = %s, %v", r.Envelope, err)
	}
	b, err := bundle.LoadJSONFromPath(writeTemp(t, r.JSON))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier(t, kp).Verify(b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest[:]), verify.WithKey())); err != nil {
		t.Errorf("DSSE bundle does not verify: %v", err)
	}
	if !s.SignedEnvelopeByKey(r.Envelope) {
		t.Error("SignedEnvelopeByKey(own envelope) = false")
	}

	payload := []byte(`{"critical":{}}`)
	m, err := s.SignMessage(context.Background(), payload)
	if err != nil {
		t.Fatalf("SignMessage() = %v", err)
	}
	if !s.SignedByKey(payload, m.Signature) || s.SignedByKey([]byte("other"), m.Signature) {
		t.Error("SignedByKey does not tell its own signature from another payload")
	}
	id, err := s.Identity(context.Background())
	if err != nil || id != BundleIdentity(m.JSON) || id == "" {
		t.Errorf("Identity() = %q, %v; bundle's = %q", id, err, BundleIdentity(m.JSON))
	}
	if s.Keyless() || s.CertificatePEM() != nil {
		t.Error("a keyed signer claims a certificate")
	}
	if ts, err := s.Timestamp(context.Background(), []byte("x")); ts != nil || err != nil {
		t.Errorf("Timestamp() without a TSA = %v, %v", ts, err)
	}
}

func TestKeylessNeedsFulcioAndToken(t *testing.T) {
	if _, err := NewKeyless(&oidc.Token{}); !errors.Is(err, ErrNoFulcio) {
		t.Errorf("NewKeyless(no Fulcio) = %v", err)
	}
	if _, err := NewKeyless(nil, WithServices(Services{FulcioURL: "https://fulcio.example"})); !errors.Is(err, oidc.ErrNoToken) {
		t.Errorf("NewKeyless(no token) = %v", err)
	}
	if _, err := NewKeyed(nil); err == nil {
		t.Error("NewKeyed(nil) succeeded")
	}
	if _, err := NewKeyless(&oidc.Token{}, WithServices(Services{FulcioURL: "ftp://x"})); err == nil {
		t.Error("WithServices accepted an ftp URL")
	}
}
