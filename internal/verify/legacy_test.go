package verify

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/proto"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/predicate"
)

const (
	vsSubject = "release@example.com"
	vsIssuer  = "https://issuer.example"
)

// legacyBed makes cosign-style legacy layers with sigstore-go's in-process
// Sigstore: a Fulcio CA, a timestamp authority and a Rekor v1 log whose
// entries carry a signed entry timestamp, as the bundle annotation holds
// them.
type legacyBed struct {
	t  *testing.T
	vs *ca.VirtualSigstore
}

// withoutCT is the virtual Sigstore's trusted material without its CT log:
// its certificates carry no SCT (TestLegacyChecksSCTs covers those).
type withoutCT struct{ *ca.VirtualSigstore }

func (withoutCT) CTLogs() map[string]*root.TransparencyLog { return nil }

func newLegacyBed(t *testing.T) *legacyBed {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	return &legacyBed{t: t, vs: vs}
}

func (b *legacyBed) checker(p Policy) *checker {
	b.t.Helper()
	if p.Key == nil && p.Identity == nil {
		p.Identity = &identity.Identity{Subject: vsSubject, Issuer: vsIssuer}
	}
	if p.Trusted == nil {
		p.Trusted = withoutCT{b.vs}
	}
	c, err := newChecker(p, time.Now)
	if err != nil {
		b.t.Fatal(err)
	}
	return c
}

// annotation is cosign's bundle annotation for a log entry, its SET signed
// by signer's log key (another virtual Sigstore's for an impostor log).
func (b *legacyBed) annotation(e *tlog.Entry, signer *ca.VirtualSigstore) string {
	b.t.Helper()
	tle := proto.Clone(e.TransparencyLogEntry()).(*protorekor.TransparencyLogEntry)
	set, err := signer.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody()),
		IntegratedTime: tle.GetIntegratedTime(),
		LogIndex:       tle.GetLogIndex(),
		LogID:          hex.EncodeToString(tle.GetLogId().GetKeyId()),
	})
	if err != nil {
		b.t.Fatal(err)
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	raw, err := legacy.RekorBundle(tle)
	if err != nil || raw == nil {
		b.t.Fatalf("RekorBundle() = %s, %v", raw, err)
	}
	return string(raw)
}

// signature is a keyless .sig layer for payload, logged and timestamped
// (over the raw signature) as cosign v2 and Seal write it.
func (b *legacyBed) signature(payload []byte, at time.Time) legacy.Layer {
	b.t.Helper()
	te, err := b.vs.SignAtTime(vsSubject, vsIssuer, payload, at)
	if err != nil {
		b.t.Fatal(err)
	}
	sc, _ := te.SignatureContent()
	vc, _ := te.VerificationContent()
	ts, _ := te.Timestamps()
	entries, _ := te.TlogEntries()
	l, err := legacy.SignatureLayer(payload, sc.Signature(), legacy.Material{
		Certificate: certPEM(vc.Certificate()), RekorBundle: []byte(b.annotation(entries[0], b.vs)), RFC3161Timestamp: ts[0],
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return l
}

// attestation is a keyless .att layer for statement, logged (a dsse entry,
// as sigstore-go's signer makes) and timestamped over the whole envelope
// as cosign v2 and Seal write it. It returns the raw signature too.
func (b *legacyBed) attestation(statement []byte) (legacy.Layer, []byte) {
	b.t.Helper()
	te, err := b.vs.Attest(vsSubject, vsIssuer, statement)
	if err != nil {
		b.t.Fatal(err)
	}
	sc, _ := te.SignatureContent()
	vc, _ := te.VerificationContent()
	entries, _ := te.TlogEntries()
	env, err := json.Marshal(sc.EnvelopeContent().RawEnvelope())
	if err != nil {
		b.t.Fatal(err)
	}
	ts, err := b.vs.TimestampResponse(env)
	if err != nil {
		b.t.Fatal(err)
	}
	l, err := legacy.AttestationLayer(env, predicate.SLSAProvenanceV1, legacy.Material{
		Certificate: certPEM(vc.Certificate()), RekorBundle: []byte(b.annotation(entries[0], b.vs)), RFC3161Timestamp: ts,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return l, sc.Signature()
}

// with returns l with its annotations changed (an empty value deletes).
func with(l legacy.Layer, ann map[string]string) legacy.Layer {
	l.Annotations = maps.Clone(l.Annotations)
	for k, v := range ann {
		if v == "" {
			delete(l.Annotations, k)
		} else {
			l.Annotations[k] = v
		}
	}
	return l
}

func timestampAnnotation(t *testing.T, ts []byte) string {
	t.Helper()
	raw, err := json.Marshal(map[string][]byte{"SignedRFC3161Timestamp": ts})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// A legacyCase is a layer checked under a policy: want "" accepts, else
// the refusal must say want.
type legacyCase struct {
	name  string
	p     Policy
	layer legacy.Layer
	want  string
}

var logged, unlogged = Policy{RequireTlog: true}, Policy{}

// accepted are the ways a good keyless layer verifies: with its log entry
// and its timestamp, and with each alone where the policy allows it.
func accepted(good legacy.Layer) []legacyCase {
	return []legacyCase{
		{"logged and timestamped", logged, good, ""},
		{"timestamp alone, log not required", unlogged, with(good, map[string]string{legacy.AnnotationRekorBundle: ""}), ""},
		{"log alone", logged, with(good, map[string]string{legacy.AnnotationRFC3161Timestamp: ""}), ""},
	}
}

// checkLegacy runs a case: want "" accepts, else the refusal must say want.
func checkLegacy(t *testing.T, c *checker, l legacy.Layer, kind legacy.Kind, want string) *Finding {
	t.Helper()
	f, err := c.legacy(l, kind, testDigest, digestBytes(t))
	if err == nil && f != nil {
		err = c.statement(f, digestBytes(t))
	}
	switch {
	case want == "" && err != nil:
		t.Fatalf("legacy() = %v, want accepted", err)
	case want != "" && err == nil:
		t.Fatalf("legacy() accepted the layer, want a refusal saying %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("legacy() = %v, want it to say %q", err, want)
	}
	return f
}

// TestLegacySignature: a keyless .sig layer goes through sigstore-go's
// verifier as the bundle path does; each way it can be wrong is refused,
// naming the check.
func TestLegacySignature(t *testing.T) {
	b := newLegacyBed(t)
	soon := time.Now().Add(time.Minute) // within the certificate's ten minutes
	good := b.signature(simpleSigning(testDigest), soon)
	other := b.signature(simpleSigning(testDigest), soon)
	impostor, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	te, err := b.vs.SignAtTime(vsSubject, vsIssuer, simpleSigning(testDigest), soon)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := te.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	otherEntry := entries[0]
	tampered := good
	tampered.Payload = []byte(strings.Replace(string(good.Payload), "r.example/app", "r.example/evil", 1))
	wrongSig := with(good, map[string]string{legacy.AnnotationSignature: other.Annotations[legacy.AnnotationSignature]})

	for _, tc := range append(accepted(good), []legacyCase{
		{"wrong identity", Policy{RequireTlog: true, Identity: &identity.Identity{Subject: "attacker@example.com", Issuer: vsIssuer}}, good, `certificate identity is "` + vsSubject + `"`},
		{"wrong issuer", Policy{RequireTlog: true, Identity: &identity.Identity{Subject: vsSubject, Issuer: "https://other.example"}}, good, `certificate OIDC issuer is "` + vsIssuer + `", want "https://other.example"`},
		{"signature of another signing", unlogged, with(wrongSig, map[string]string{legacy.AnnotationRFC3161Timestamp: other.Annotations[legacy.AnnotationRFC3161Timestamp]}), "signature does not verify"},
		{"payload altered", unlogged, tampered, "signature does not verify"},
		{"payload altered, logged", logged, tampered, "logs another signature, certificate or payload"},
		{"payload names another image", logged, b.signature(simpleSigning("sha256:"+strings.Repeat("ab", 32)), soon), "payload signs sha256:abab"},
		{"no log entry, log required", logged, with(good, map[string]string{legacy.AnnotationRekorBundle: ""}), "no transparency-log entry"},
		{"entry of another signature", logged, with(good, map[string]string{legacy.AnnotationRekorBundle: b.annotation(otherEntry, b.vs)}), "logs another signature, certificate or payload"},
		{"entry's SET from another log key", logged, with(good, map[string]string{legacy.AnnotationRekorBundle: b.annotation(otherEntry, impostor)}), "SET"},
		{"entry not JSON", logged, with(good, map[string]string{legacy.AnnotationRekorBundle: "{"}), "transparency-log entry: parsing"},
		{"timestamp over the payload, not the signature", unlogged, with(good, map[string]string{legacy.AnnotationRFC3161Timestamp: timestampAnnotation(t, mustTimestamp(t, b.vs, good.Payload))}), "RFC 3161 timestamp does not verify"},
		{"timestamp over other bytes, entry valid", logged, with(good, map[string]string{legacy.AnnotationRFC3161Timestamp: other.Annotations[legacy.AnnotationRFC3161Timestamp]}), "RFC 3161 timestamp does not verify"},
		{"no timestamp, no log: nothing proves the certificate's time", unlogged, with(good, map[string]string{legacy.AnnotationRFC3161Timestamp: "", legacy.AnnotationRekorBundle: ""}), "no valid timestamp"},
		{"logged after the certificate expired", logged, with(b.signature(simpleSigning(testDigest), time.Now().Add(30*time.Minute)), map[string]string{legacy.AnnotationRFC3161Timestamp: ""}), "outside certificate validity"},
		{"no certificate", logged, with(good, map[string]string{legacy.AnnotationCertificate: ""}), "no certificate"},
	}...) {
		t.Run(tc.name, func(t *testing.T) {
			f := checkLegacy(t, b.checker(tc.p), tc.layer, legacy.Signature, tc.want)
			if tc.want == "" && (f.Kind != "signature" || f.Signer != vsSubject || f.Issuer != vsIssuer || f.Time.IsZero()) {
				t.Errorf("finding %+v: want a signature by %s at a proven time", f, vsSubject)
			}
		})
	}
}

func mustTimestamp(t *testing.T, vs *ca.VirtualSigstore, data []byte) []byte {
	t.Helper()
	ts, err := vs.TimestampResponse(data)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestLegacyAttestation: a keyless .att layer, whose timestamp covers the
// whole envelope (cosign's binding, which no bundle can hold), verifies
// through sigstore-go's verifier, with and without the log; each way it can
// be wrong is refused.
func TestLegacyAttestation(t *testing.T) {
	b := newLegacyBed(t)
	st := statementAbout(testDigest, predicate.SLSAProvenanceV1)
	good, sig := b.attestation(st)
	other, _ := b.attestation(st)
	overSig := with(good, map[string]string{legacy.AnnotationRFC3161Timestamp: timestampAnnotation(t, mustTimestamp(t, b.vs, sig))})

	// An envelope whose statement was edited, timestamped anew: anyone can
	// have any bytes timestamped.
	var env map[string]any
	if err := json.Unmarshal(good.Payload, &env); err != nil {
		t.Fatal(err)
	}
	env["payload"] = base64.StdEncoding.EncodeToString(statementAbout(testDigest, predicate.SLSAProvenanceV02))
	edited := good
	var err error
	if edited.Payload, err = json.Marshal(env); err != nil {
		t.Fatal(err)
	}
	edited = with(edited, map[string]string{legacy.AnnotationRFC3161Timestamp: timestampAnnotation(t, mustTimestamp(t, b.vs, edited.Payload))})

	intotoV001, err := legacy.RekorBundle(&protorekor.TransparencyLogEntry{
		CanonicalizedBody: []byte(`{"apiVersion":"0.0.1","kind":"intoto","spec":{}}`),
		LogId:             &protocommon.LogId{KeyId: []byte{1}},
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: []byte{1}},
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range append(accepted(good), []legacyCase{
		{"timestamp over the signature, not the envelope", unlogged, overSig, "RFC 3161 timestamp does not verify"},
		{"timestamp over the signature, entry valid", logged, overSig, "RFC 3161 timestamp does not verify"},
		{"wrong identity", Policy{RequireTlog: true, Identity: &identity.Identity{SubjectRegexp: "^attacker@", Issuer: vsIssuer}}, good, "does not match"},
		{"statement edited", unlogged, edited, "signature does not verify"},
		{"statement edited, logged", logged, edited, "signature does not verify"},
		{"statement edited, logged, no timestamp", logged, with(edited, map[string]string{legacy.AnnotationRFC3161Timestamp: ""}), "logs another signature, certificate or payload"},
		{"entry of another attestation", logged, with(good, map[string]string{legacy.AnnotationRekorBundle: other.Annotations[legacy.AnnotationRekorBundle]}), "logs another signature, certificate or payload"},
		{"no log entry, log required", logged, with(good, map[string]string{legacy.AnnotationRekorBundle: ""}), "no transparency-log entry"},
		{"intoto v0.0.1 entry, which logs no signature", logged, with(good, map[string]string{legacy.AnnotationRekorBundle: string(intotoV001)}), "its kind, intoto v0.0.1, cannot be compared"},
		{"statement about another image", unlogged, func() legacy.Layer {
			l, _ := b.attestation(statementAbout("sha256:"+strings.Repeat("cd", 32), predicate.SLSAProvenanceV1))
			return l
		}(), "about another artifact"},
		{"no timestamp, no log", unlogged, with(good, map[string]string{legacy.AnnotationRFC3161Timestamp: "", legacy.AnnotationRekorBundle: ""}), "no valid timestamp"},
	}...) {
		t.Run(tc.name, func(t *testing.T) {
			f := checkLegacy(t, b.checker(tc.p), tc.layer, legacy.Attestation, tc.want)
			if tc.want == "" && (f.Kind != "attestation" || f.PredicateType != predicate.SLSAProvenanceV1 || f.Signer != vsSubject || f.Time.IsZero()) {
				t.Errorf("finding %+v: want a provenance attestation by %s at a proven time", f, vsSubject)
			}
		})
	}
}

// TestLegacyKeyed: layers signed with a key verify with that key through the
// same verifier, in both kinds, and with no other key.
func TestLegacyKeyed(t *testing.T) {
	ctx := context.Background()
	signer, kp := keyedSigner(t)
	_, otherKP := keyedSigner(t)
	payload := simpleSigning(testDigest)
	r, err := signer.SignMessage(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	sigLayer, err := legacy.SignatureLayer(payload, r.Signature, legacy.Material{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := signer.SignDSSE(ctx, predicate.InTotoPayloadType, statementAbout(testDigest, predicate.SLSAProvenanceV1))
	if err != nil {
		t.Fatal(err)
	}
	attLayer, err := legacy.AttestationLayer(d.Envelope, predicate.SLSAProvenanceV1, legacy.Material{})
	if err != nil {
		t.Fatal(err)
	}
	b := newLegacyBed(t)
	for _, tc := range []struct {
		name  string
		p     Policy
		kind  legacy.Kind
		layer legacy.Layer
		want  string
	}{
		{"signature, its key", Policy{Key: kp.GetPublicKey()}, legacy.Signature, sigLayer, ""},
		{"attestation, its key", Policy{Key: kp.GetPublicKey()}, legacy.Attestation, attLayer, ""},
		{"signature, another key", Policy{Key: otherKP.GetPublicKey()}, legacy.Signature, sigLayer, "signature does not verify"},
		{"attestation, another key", Policy{Key: otherKP.GetPublicKey()}, legacy.Attestation, attLayer, "signature does not verify"},
		{"keyed signature, keyless policy", Policy{}, legacy.Signature, sigLayer, "no certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := checkLegacy(t, b.checker(tc.p), tc.layer, tc.kind, tc.want)
			if tc.want == "" && !strings.HasPrefix(f.Signer, "key sha256:") {
				t.Errorf("finding %+v: want the key's fingerprint as signer", f)
			}
		})
	}
}
