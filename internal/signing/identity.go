package signing

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// Identity returns what makes two signatures come from "the same signer"
// when deciding whether a re-run must publish again: the key's hint for a
// key; for a keyless signer, the workflow identity, OIDC issuer and the
// commit and workflow revision it ran at (a re-run of the same job at the
// same commit is the same signer, another commit is not). A keyless signer
// gets its certificate here if it has none yet.
func (s *Signer) Identity(ctx context.Context) (string, error) {
	if s.certs == nil {
		kp, err := s.key()
		if err != nil {
			return "", err
		}
		return "key:" + string(kp.GetHint()), nil
	}
	der, err := s.certs.GetCertificate(ctx, s.keypair, &sign.CertificateProviderOptions{IDToken: s.certs.idToken})
	if err != nil {
		return "", s.explain(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return "", fmt.Errorf("parsing signing certificate: %w", err)
	}
	return CertIdentity(c), nil
}

// CertIdentity is Identity for a Fulcio certificate.
func CertIdentity(c *x509.Certificate) string {
	sum, err := certificate.SummarizeCertificate(c)
	if err != nil {
		return "cert:unparsed"
	}
	return "cert:" + sum.Issuer + "|" + sum.SubjectAlternativeName + "|" + sum.SourceRepositoryDigest + "|" + sum.BuildSignerDigest
}

// BundleIdentity is Identity for the signer of a bundle ("" if unknown).
func BundleIdentity(raw []byte) string {
	pb := &protobundle.Bundle{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, pb); err != nil {
		return ""
	}
	vm := pb.GetVerificationMaterial()
	switch {
	case vm.GetPublicKey() != nil:
		return "key:" + vm.GetPublicKey().GetHint()
	case vm.GetCertificate() != nil:
		return derIdentity(vm.GetCertificate().GetRawBytes())
	case vm.GetX509CertificateChain() != nil && len(vm.GetX509CertificateChain().GetCertificates()) > 0:
		return derIdentity(vm.GetX509CertificateChain().GetCertificates()[0].GetRawBytes())
	}
	return ""
}

// PEMIdentity is Identity for a PEM certificate (cosign's legacy annotation).
func PEMIdentity(p string) string {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return ""
	}
	return derIdentity(b.Bytes)
}

func derIdentity(der []byte) string {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return ""
	}
	return CertIdentity(c)
}

// SignedByKey reports whether sig over payload verifies with this keyed
// signer's key: cosign's legacy layers of keyed signatures carry no
// certificate, so this is how a re-run recognizes its own.
func (s *Signer) SignedByKey(payload, sig []byte) bool {
	v, ok := s.keyVerifier()
	return ok && v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)) == nil
}

// SignedEnvelopeByKey is SignedByKey for a DSSE envelope (JSON).
func (s *Signer) SignedEnvelopeByKey(envelope []byte) bool {
	v, ok := s.keyVerifier()
	return ok && dsse.WrapVerifier(v).VerifySignature(bytes.NewReader(envelope), nil) == nil
}

// keyVerifier is a keyed signer's public key as a verifier; false for a
// keyless signer or a key that did not load.
func (s *Signer) keyVerifier() (signature.Verifier, bool) {
	if s.certs != nil {
		return nil, false
	}
	kp, err := s.key()
	if err != nil {
		return nil, false
	}
	v, err := signature.LoadDefaultVerifier(kp.GetPublicKey())
	return v, err == nil
}
