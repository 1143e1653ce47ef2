package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci/legacy"
)

// TestLegacyChecksSCTs: when the trusted root lists CT logs, a keyless
// legacy signature whose certificate carries no valid SCT is refused, as
// the bundle path refuses it.
func TestLegacyChecksSCTs(t *testing.T) {
	tca := newTestCA(t)
	const san = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
	layer := func(extra ...pkix.Extension) legacy.Layer {
		cert, key := tca.leaf(san, nil, extra...)
		payload := simpleSigning(testDigest)
		s, err := signature.LoadSigner(key, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := s.SignMessage(bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		l, err := legacy.SignatureLayer(payload, sig, legacy.Material{Certificate: certPEM(cert), RFC3161Timestamp: tca.timestamp(sig)})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	noSCT, forged := layer(), layer(forgedSCT(t, tca.ctLogID))
	id := &identity.Identity{Subject: san, Issuer: tca.issuer}
	for _, tc := range []struct {
		name    string
		trusted root.TrustedMaterial
		layer   legacy.Layer
		want    string // "" accepts
	}{
		{"no CT log in the trusted root: SCTs not required", tca.withoutCT, noSCT, ""},
		{"CT log in the trusted root: an SCT is required", tca.withCT, noSCT, "certificate transparency"},
		{"an SCT naming the trusted log, which did not sign it", tca.withCT, forged, "certificate transparency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chk, err := newChecker(Policy{Identity: id, Trusted: tc.trusted, RequireSignature: true}, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			_, err = chk.legacy(tc.layer, legacy.Signature, testDigest, digestBytes(t))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("legacy() = %v, want accepted", err)
			case tc.want != "" && err == nil:
				t.Fatalf("legacy() accepted a certificate without a valid SCT, want an error saying %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("legacy() = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestPayloadType: a DSSE envelope whose payloadType is not in-toto's is
// refused in both formats, even when its payload is a statement about the
// image and the signature verifies.
func TestPayloadType(t *testing.T) {
	signer, kp := keyedSigner(t)
	const pt = "https://example.com/predicate/v1"
	st := statementAbout(testDigest, pt)
	for _, payloadType := range []string{"application/vnd.in-toto+json", "text/plain", "application/vnd.in-toto+json; charset=utf-8"} {
		t.Run(payloadType, func(t *testing.T) {
			chk, err := newChecker(Policy{Key: kp.GetPublicKey(), Attestations: []string{pt}}, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			res, err := signer.SignDSSE(context.Background(), payloadType, st)
			if err != nil {
				t.Fatal(err)
			}
			l, err := legacy.AttestationLayer(res.Envelope, pt, legacy.Material{})
			if err != nil {
				t.Fatal(err)
			}
			_, errL := chk.legacy(l, legacy.Attestation, testDigest, digestBytes(t))
			_, errB := chk.bundle(res.JSON, digestBytes(t))
			ok := payloadType == "application/vnd.in-toto+json"
			for format, err := range map[string]error{"legacy": errL, "bundle": errB} {
				switch {
				case ok && err != nil:
					t.Errorf("%s: %v, want accepted", format, err)
				case !ok && err == nil:
					t.Errorf("%s: accepted an envelope of payloadType %q", format, payloadType)
				case !ok && !strings.Contains(err.Error(), "payloadType"):
					t.Errorf("%s: %v, want it to name the payloadType", format, err)
				}
			}
		})
	}
}

// A DSSE envelope signed by hand, for the legacy path's own parsing.
func TestPayloadTypeHandSigned(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	const pt = "https://example.com/predicate/v1"
	env, err := dsse.WrapSigner(sv, "application/json").SignMessage(strings.NewReader(string(statementAbout(testDigest, pt))))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		PayloadType string `json:"payloadType"`
	}
	if err := json.Unmarshal(env, &e); err != nil || e.PayloadType != "application/json" {
		t.Fatalf("envelope %s: %v", env, err)
	}
	l, err := legacy.AttestationLayer(env, pt, legacy.Material{})
	if err != nil {
		t.Fatal(err)
	}
	chk, err := newChecker(Policy{Key: key.Public(), Attestations: []string{pt}}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chk.legacy(l, legacy.Attestation, testDigest, digestBytes(t)); err == nil || !strings.Contains(err.Error(), "payloadType") {
		t.Fatalf("legacy() = %v, want a refusal naming the payloadType", err)
	}
}
