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
	"github.com/sealsign/seal/internal/predicate"
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
	r, err := s.SignDSSE(context.Background(), predicate.InTotoPayloadType, st)
	if err != nil {
		t.Fatalf("SignDSSE() = %v", err)
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
	}
	if err := json.Unmarshal(r.Envelope, &env); err != nil || string(env.Payload) != string(st) || env.PayloadType != predicate.InTotoPayloadType {
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

// TestNewKeyedAsync: the key loads in the background while the caller goes
// on; the first operation that needs it waits, and a load error comes back
// from every such operation without a signature being made.
func TestNewKeyedAsync(t *testing.T) {
	ctx := context.Background()
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	s, err := NewKeyedAsync(func() (sign.Keypair, error) { <-release; return kp, nil })
	if err != nil {
		t.Fatalf("NewKeyedAsync() = %v", err)
	}
	// The constructor returned while the load is blocked: it did not wait.
	got := make(chan string, 1)
	go func() {
		id, _ := s.Identity(ctx)
		got <- id
	}()
	select {
	case id := <-got:
		t.Fatalf("Identity() = %q before the key loaded", id)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if id := <-got; id != "key:"+string(kp.GetHint()) {
		t.Errorf("Identity() = %q, want the key's hint", id)
	}
	r, err := s.SignMessage(ctx, []byte("payload"))
	if err != nil {
		t.Fatalf("SignMessage() = %v", err)
	}
	if !s.SignedByKey([]byte("payload"), r.Signature) {
		t.Error("SignedByKey(own signature) = false")
	}

	wrong := errors.New("decrypting key: wrong password")
	bad, err := NewKeyedAsync(func() (sign.Keypair, error) { return nil, wrong })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.SignMessage(ctx, []byte("payload")); !errors.Is(err, wrong) {
		t.Errorf("SignMessage() with a failed load = %v, want %v", err, wrong)
	}
	if _, err := bad.Identity(ctx); !errors.Is(err, wrong) {
		t.Errorf("Identity() with a failed load = %v, want %v", err, wrong)
	}
	if _, err := bad.PublicKeyPEM(); !errors.Is(err, wrong) {
		t.Errorf("PublicKeyPEM() with a failed load = %v, want %v", err, wrong)
	}
	if bad.SignedByKey([]byte("payload"), r.Signature) {
		t.Error("SignedByKey() with a failed load = true")
	}
}
