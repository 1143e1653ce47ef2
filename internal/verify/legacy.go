package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sealsign/seal/internal/oci/legacy"
)

// bundleV01 is the bundle version whose log entries need only an inclusion
// promise (the SET): cosign's Rekor bundle annotation has no inclusion proof.
const bundleV01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"

// legacy verifies a layer of cosign's .sig or .att tag with the verifier
// and policy that bundles go through: the layer is turned into the bundle
// that holds the same evidence (legacyBundle). What differs is only what
// the bundle cannot say: a simple-signing payload names the image it
// signs, and cosign timestamps an attestation's whole envelope.
func (c *checker) legacy(l legacy.Layer, kind legacy.Kind, digestStr string, digest []byte) (*Finding, error) {
	pb, err := c.legacyBundle(l, kind)
	if err != nil {
		return nil, err
	}
	var f *Finding
	switch kind {
	case legacy.Signature:
		v := c.verifier
		if pb.GetVerificationMaterial().GetTimestampVerificationData() != nil {
			v = c.stamped
		}
		if f, err = c.verifyLegacy(v, pb, nil, sgverify.WithArtifact(bytes.NewReader(l.Payload))); err != nil {
			return nil, err
		}
		if err := signsDigest(l.Payload, digestStr); err != nil {
			return nil, err
		}
	case legacy.Attestation:
		if err := envelopeAbout(pb.GetDsseEnvelope(), digest); err != nil {
			return nil, err
		}
		if f, err = c.legacyAttestation(pb, l.Payload, digest); err != nil {
			return nil, err
		}
	}
	f.Kind = kind.String()
	return f, nil
}

// legacyAttestation verifies a .att layer. Its RFC 3161 timestamp, as
// cosign v2 makes it, covers the whole envelope (the layer's blob), where a
// bundle's covers the envelope's signature: no bundle can hold it, so the
// layer is verified as stampedEnvelope with that timestamp alone, and, when
// the policy requires the log, once more as the bundle with its log entry.
func (c *checker) legacyAttestation(pb *protobundle.Bundle, envelope, digest []byte) (*Finding, error) {
	artifact := sgverify.WithArtifactDigest("sha256", digest)
	vm := pb.GetVerificationMaterial()
	if vm.GetTimestampVerificationData() == nil {
		return c.verifyLegacy(c.verifier, pb, nil, artifact)
	}
	stamped := proto.Clone(pb).(*protobundle.Bundle)
	stamped.VerificationMaterial.TlogEntries = nil
	f, err := c.verifyLegacy(c.envelopeStamped, stamped, envelope, artifact)
	if err != nil || len(vm.GetTlogEntries()) == 0 {
		return f, err
	}
	logged := proto.Clone(pb).(*protobundle.Bundle)
	logged.VerificationMaterial.TimestampVerificationData = nil
	g, err := c.verifyLegacy(c.verifier, logged, nil, artifact)
	if err != nil {
		return nil, err
	}
	if g.Time.Before(f.Time) {
		f.Time = g.Time
	}
	return f, nil
}

// verifyLegacy verifies pb with v, as stampedEnvelope when envelope is set.
func (c *checker) verifyLegacy(v *sgverify.Verifier, pb *protobundle.Bundle, envelope []byte, artifact sgverify.ArtifactPolicyOption) (*Finding, error) {
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("reading the layer's evidence: %w", err)
	}
	if envelope == nil {
		return c.verify(v, b, artifact)
	}
	return c.verify(v, stampedEnvelope{Bundle: b, envelope: envelope}, artifact)
}

// stampedEnvelope is a legacy attestation as its timestamp sees it: its
// signature content gives the whole envelope as the bytes the timestamp
// covers. Only the timestamp check reads those bytes (the envelope's
// signature is verified from the envelope itself) as long as no log entry is
// consulted, whose check compares them with the logged signature: it is
// verified with envelopeStamped, which requires no log, and carries none.
// cosign v2 verifies these timestamps the same way, with sigstore-go's
// VerifySignedTimestamp over the envelope.
type stampedEnvelope struct {
	*bundle.Bundle
	envelope []byte
}

func (s stampedEnvelope) SignatureContent() (sgverify.SignatureContent, error) {
	sc, err := s.Bundle.SignatureContent()
	if err != nil {
		return nil, err
	}
	return stampedContent{SignatureContent: sc, stamped: s.envelope}, nil
}

type stampedContent struct {
	sgverify.SignatureContent
	stamped []byte
}

func (s stampedContent) Signature() []byte { return s.stamped }

// legacyBundle is the bundle that holds what the layer holds: its
// simple-signing payload's signature or its DSSE envelope; the key the
// policy trusts, or the layer's certificate; and, for a keyless layer, the
// Rekor v1 entry of cosign's bundle annotation (when the policy requires
// the log: without it the entry is not consulted) and the RFC 3161
// timestamp.
func (c *checker) legacyBundle(l legacy.Layer, kind legacy.Kind) (*protobundle.Bundle, error) {
	vm := &protobundle.VerificationMaterial{}
	pb := &protobundle.Bundle{MediaType: bundleV01, VerificationMaterial: vm}
	switch kind {
	case legacy.Signature:
		sig, err := l.Signature()
		if err != nil {
			return nil, err
		}
		h := sha256.Sum256(l.Payload)
		pb.Content = &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: h[:]},
			Signature:     sig,
		}}
	case legacy.Attestation:
		env := &protodsse.Envelope{}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(l.Payload, env); err != nil {
			return nil, fmt.Errorf("parsing envelope: %w", err)
		}
		pb.Content = &protobundle.Bundle_DsseEnvelope{DsseEnvelope: env}
	default:
		return nil, fmt.Errorf("unknown legacy layer kind %s", kind)
	}
	if c.key != nil {
		vm.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}}
		return pb, nil
	}
	cert, err := legacyCertificate(l)
	if err != nil {
		return nil, err
	}
	vm.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}}
	if c.p.RequireTlog {
		raw := l.Annotations[legacy.AnnotationRekorBundle]
		if raw == "" {
			return nil, errors.New("no transparency-log entry (the signature was not logged in a Rekor v1 log), and the policy requires one (--no-tlog accepts a timestamp alone)")
		}
		e, err := rekorEntry([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("transparency-log entry: %w", err)
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{e}
	}
	ts, err := l.RFC3161Timestamp()
	if err != nil {
		return nil, err
	}
	if len(ts) > 0 {
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: ts}},
		}
	}
	return pb, nil
}

func legacyCertificate(l legacy.Layer) (*x509.Certificate, error) {
	p := l.Annotations[legacy.AnnotationCertificate]
	if p == "" {
		return nil, errors.New("no certificate: signed with a key, not keylessly")
	}
	blk, _ := pem.Decode([]byte(p))
	if blk == nil {
		return nil, errors.New("certificate annotation is not PEM")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate: %w", err)
	}
	return cert, nil
}

// comparableEntries are the Rekor v1 entry kinds whose signature, key and
// payload sigstore-go compares with what was signed.
var comparableEntries = map[string]bool{"hashedrekord 0.0.1": true, "dsse 0.0.1": true, "intoto 0.0.2": true}

// rekorEntry reads cosign's Rekor bundle annotation (legacy.RekorEntry) and
// refuses an entry kind sigstore-go cannot compare with the layer.
func rekorEntry(raw []byte) (*protorekor.TransparencyLogEntry, error) {
	e, err := legacy.RekorEntry(raw)
	if err != nil {
		return nil, err
	}
	kind, version := e.GetKindVersion().GetKind(), e.GetKindVersion().GetVersion()
	if !comparableEntries[kind+" "+version] {
		return nil, fmt.Errorf("its kind, %s v%s, cannot be compared with the layer: sigstore-go compares hashedrekord, dsse and intoto v0.0.2 entries (the intoto v0.0.1 entries of cosign v2's attest --rekor-entry-type intoto log no signature; its default, dsse, does)", kind, version)
	}
	return e, nil
}

// signsDigest checks that a simple-signing payload names the image.
func signsDigest(payload []byte, digest string) error {
	var p struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("parsing simple-signing payload: %w", err)
	}
	if p.Critical.Image.Digest != digest {
		return fmt.Errorf("payload signs %s, not this image (%s)", p.Critical.Image.Digest, digest)
	}
	return nil
}
