package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/predicate"
)

// FuzzVerifyBundles feeds arbitrary bytes as bundles: never a panic, never
// an acceptance.
func FuzzVerifyBundles(f *testing.F) {
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAAA"}]}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AAAA"},"signature":"AAAA"}}`))
	f.Add([]byte(`{}`))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	digest := sha256.Sum256([]byte("artifact"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := VerifyBundles("artifact", digest[:], [][]byte{b}, Policy{Key: key.Public(), Attestations: []string{predicate.SLSAProvenanceV1}})
		if err == nil {
			t.Fatalf("accepted a bundle no key signed: %+v", rep)
		}
	})
}

func FuzzProvenanceFacts(f *testing.F) {
	f.Add(`{"buildDefinition":{"resolvedDependencies":[{"uri":"git+https://x/y@refs/heads/main","digest":{"gitCommit":"ab"}}]},"runDetails":{"builder":{"id":"b"}}}`, true)
	f.Add(`{"materials":[{"uri":"git+https://x/y","digest":{"sha1":"ab"}}],"builder":{"id":"b"}}`, false)
	f.Fuzz(func(t *testing.T, pred string, v1 bool) {
		pt := predicate.SLSAProvenanceV02
		if v1 {
			pt = predicate.SLSAProvenanceV1
		}
		_, _ = ProvenanceFacts(pt, []byte(pred))
	})
}

// FuzzLegacyRekorEntry feeds arbitrary cosign bundle annotations and
// payloads to the verification of a keyless legacy layer that requires the
// log: never a panic, never an acceptance (no entry can carry a signed entry
// timestamp from a log key that exists only in this test).
func FuzzLegacyRekorEntry(f *testing.F) {
	f.Add([]byte(`{"SignedEntryTimestamp":"MEUCIQ==","Payload":{"body":"eyJhcGlWZXJzaW9uIjoiMC4wLjEiLCJraW5kIjoiaGFzaGVkcmVrb3JkIiwic3BlYyI6e319","integratedTime":1700000000,"logIndex":1,"logID":"00"}}`), []byte(`{"payload":"e30=","signatures":[{"sig":"AAAA"}]}`), true)
	f.Add([]byte(`{"Payload":{"body":"!!","logID":"zz"}}`), []byte(`{}`), false)
	f.Add([]byte(`null`), []byte(`[]`), false)
	logKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(logKey.Public())
	if err != nil {
		f.Fatal(err)
	}
	id := sha256.Sum256(der)
	certKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, certKey.Public(), certKey)
	if err != nil {
		f.Fatal(err)
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		f.Fatal(err)
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: cert, ValidityPeriodStart: time.Unix(0, 0)}}, nil, nil,
		map[string]*root.TransparencyLog{
			hex.EncodeToString(id[:]): {ID: id[:], PublicKey: logKey.Public(), HashFunc: crypto.SHA256, SignatureHashFunc: crypto.SHA256, ValidityPeriodStart: time.Unix(0, 0)},
		})
	if err != nil {
		f.Fatal(err)
	}
	c, err := newChecker(Policy{Identity: &identity.Identity{SubjectRegexp: ".*", IssuerRegexp: ".*"}, Trusted: tr, RequireTlog: true}, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, annotation, payload []byte, signature bool) {
		kind := legacy.Attestation
		l := legacy.Layer{Payload: payload, Annotations: map[string]string{
			legacy.AnnotationRekorBundle: string(annotation), legacy.AnnotationSignature: "", legacy.AnnotationCertificate: string(certPEM(cert)),
		}}
		if signature {
			kind = legacy.Signature
			l.Annotations[legacy.AnnotationSignature] = base64.StdEncoding.EncodeToString(payload)
		}
		if f, err := c.legacy(l, kind, testDigest, digestBytes(t)); err == nil {
			t.Fatalf("accepted an entry no trusted log signed: %+v", f)
		}
	})
}
