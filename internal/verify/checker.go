package verify

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sealsign/seal/internal/predicate"
)

// checker verifies signatures against one policy.
type checker struct {
	p   Policy
	now func() time.Time
	// vsa is what a required Verification Summary must say.
	vsa   *VSARequirement
	key   signature.Verifier // keyed
	keyID string
	ident sgverify.CertificateIdentity
	// verifier checks bundles, and legacy layers without a timestamp.
	// Keyless legacy layers that carry an RFC 3161 timestamp go to
	// stamped, which also requires that timestamp to verify (cosign refuses
	// a layer whose timestamp does not); envelopeStamped gets a legacy
	// attestation as stampedEnvelope presents it, its timestamp over the
	// whole envelope (see legacy.go), and does not consult the log.
	// With a key, all three are one.
	verifier, stamped, envelopeStamped *sgverify.Verifier
}

func newChecker(p Policy, now func() time.Time) (*checker, error) {
	vsa, err := p.vsaRequirement()
	if err != nil {
		return nil, err
	}
	c := &checker{p: p, now: now, vsa: vsa}
	if p.Key != nil {
		v, err := signature.LoadDefaultVerifier(p.Key)
		if err != nil {
			return nil, fmt.Errorf("loading verification key: %w", err)
		}
		c.key, c.keyID = v, fingerprint(p.Key)
		trusted := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return root.NewExpiringKey(v, time.Time{}, time.Time{}), nil
		})
		if c.verifier, err = sgverify.NewVerifier(trusted, sgverify.WithNoObserverTimestamps()); err != nil {
			return nil, err
		}
		c.stamped, c.envelopeStamped = c.verifier, c.verifier
		return c, nil
	}
	id := p.Identity
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("signer identity: %w", err)
	}
	ident, err := sgverify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegexp, id.Subject, id.SubjectRegexp)
	if err != nil {
		return nil, fmt.Errorf("signer identity: %w", err)
	}
	c.ident = ident
	keyless := func(tlog, signedTimestamp bool) (*sgverify.Verifier, error) {
		opts := []sgverify.VerifierOption{sgverify.WithObserverTimestamps(1)}
		if tlog {
			opts = append(opts, sgverify.WithTransparencyLog(1))
		}
		if signedTimestamp {
			opts = append(opts, sgverify.WithSignedTimestamps(1))
		}
		if len(p.Trusted.CTLogs()) > 0 {
			opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
		}
		v, err := sgverify.NewVerifier(p.Trusted, opts...)
		if err != nil {
			return nil, fmt.Errorf("building verifier: %w", err)
		}
		return v, nil
	}
	if c.verifier, err = keyless(p.RequireTlog, false); err != nil {
		return nil, err
	}
	if c.stamped, err = keyless(p.RequireTlog, true); err != nil {
		return nil, err
	}
	if c.envelopeStamped, err = keyless(false, true); err != nil {
		return nil, err
	}
	return c, nil
}

func fingerprint(k crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return "key"
	}
	h := sha256.Sum256(der)
	return "key sha256:" + hex.EncodeToString(h[:8])
}

// bundle verifies a Sigstore bundle whose content is about digest.
func (c *checker) bundle(raw []byte, digest []byte) (*Finding, error) {
	pb := &protobundle.Bundle{}
	if err := protojson.Unmarshal(raw, pb); err != nil {
		return nil, fmt.Errorf("parsing bundle: %w", err)
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("parsing bundle: %w", err)
	}
	if err := envelopeAbout(pb.GetDsseEnvelope(), digest); err != nil {
		return nil, err
	}
	return c.verify(c.verifier, b, sgverify.WithArtifactDigest("sha256", digest))
}

// envelopeAbout says plainly why an envelope is not an attestation about
// digest (not in-toto, or a valid attestation copied from another image),
// before sigstore-go's more general digest error. A nil env passes.
func envelopeAbout(env *protodsse.Envelope, digest []byte) error {
	if env == nil {
		return nil
	}
	if err := inToto(env.GetPayloadType()); err != nil {
		return err
	}
	return aboutDigest(env.GetPayload(), digest)
}

// verify runs one of sigstore-go's verifiers on e, holds a certificate to
// the policy's identity, and reports what verified. Both storage formats
// end here.
func (c *checker) verify(v *sgverify.Verifier, e sgverify.SignedEntity, artifact sgverify.ArtifactPolicyOption) (*Finding, error) {
	pol := []sgverify.PolicyOption{sgverify.WithKey()}
	if c.key == nil {
		pol = []sgverify.PolicyOption{sgverify.WithCertificateIdentity(c.ident)}
	}
	res, err := v.Verify(e, sgverify.NewPolicy(artifact, pol...))
	if err != nil {
		return nil, explainSigstore(err)
	}
	f := &Finding{Signer: c.keyID, Kind: "signature"}
	if res.Statement != nil {
		f.PredicateType = res.Statement.GetPredicateType()
		if f.PredicateType != predicate.CosignSign {
			f.Kind = "attestation"
		}
		f.Statement, _ = protojson.Marshal(res.Statement)
	}
	for _, ts := range res.VerifiedTimestamps {
		if f.Time.IsZero() || ts.Timestamp.Before(f.Time) {
			f.Time = ts.Timestamp
		}
	}
	if cs := res.Signature.Certificate; cs != nil {
		if err := c.identity(cs); err != nil {
			return nil, err
		}
		f.Signer, f.Issuer, f.Certificate = cs.SubjectAlternativeName, cs.Issuer, cs
	}
	return f, nil
}

// sigstore-go's identity errors, whose fields are not exported.
var (
	valueMismatch = regexp.MustCompile(`expected (SAN|issuer) value "(.*)", got "(.*)"`)
	regexMismatch = regexp.MustCompile(`expected (SAN|issuer) value to match regex "(.*)", got "(.*)"`)
	identityField = map[string]string{"SAN": "identity", "issuer": "OIDC issuer"}
)

// explainSigstore turns sigstore-go's errors into the failed check and
// what was found instead.
func explainSigstore(err error) error {
	msg := err.Error()
	switch {
	case regexMismatch.MatchString(msg):
		m := regexMismatch.FindStringSubmatch(msg)
		return fmt.Errorf("certificate %s is %q, which does not match %q", identityField[m[1]], m[3], m[2])
	case valueMismatch.MatchString(msg):
		m := valueMismatch.FindStringSubmatch(msg)
		return fmt.Errorf("certificate %s is %q, want %q", identityField[m[1]], m[3], m[2])
	case strings.Contains(msg, "could not verify envelope"), strings.Contains(msg, "could not verify message"), strings.Contains(msg, "failed to verify signature"):
		return fmt.Errorf("signature does not verify: the payload or the signature was altered, or another key signed it (%w)", err)
	case strings.Contains(msg, "not enough verified log entries"):
		return fmt.Errorf("no transparency-log entry verifies: none is from a log of the trusted root whose key signs its signed entry timestamp (SET) (%w)", err)
	case strings.Contains(msg, "failed to verify log inclusion") && (strings.Contains(msg, "does not match") || strings.Contains(msg, "entry is not a")):
		return fmt.Errorf("the transparency-log entry logs another signature, certificate or payload (%w)", err)
	case strings.Contains(msg, "threshold not met for verified signed timestamps"):
		return fmt.Errorf("the RFC 3161 timestamp does not verify over this signature with a trusted timestamp authority (%w)", err)
	case strings.Contains(msg, "threshold not met for verified signed & log"), strings.Contains(msg, "observer timestamps"):
		return fmt.Errorf("no valid timestamp proves the short-lived certificate was valid when it signed (%w)", err)
	case strings.Contains(msg, "failed to verify leaf certificate"):
		return fmt.Errorf("certificate does not chain to a trusted Fulcio CA at the time it signed (%w)", err)
	case strings.Contains(msg, "failed to verify signed certificate timestamp"):
		return fmt.Errorf("certificate carries no valid signed certificate timestamp from a trusted certificate transparency log (%w)", err)
	}
	return err
}

// identity checks the certificate's issuer, subject and CI extensions,
// naming what was found instead of what was wanted.
func (c *checker) identity(s *certificate.Summary) error {
	id := c.p.Identity
	if id == nil {
		return nil
	}
	errs := []error{
		exact("OIDC issuer", s.Issuer, id.Issuer),
		match("OIDC issuer", s.Issuer, id.IssuerRegexp),
		exact("identity", s.SubjectAlternativeName, id.Subject),
		match("identity", s.SubjectAlternativeName, id.SubjectRegexp),
	}
	// Every extension the identity sets must hold exactly.
	want, got := reflect.ValueOf(id.Extensions), reflect.ValueOf(s.Extensions)
	for i := 0; i < want.NumField(); i++ {
		f := want.Type().Field(i)
		w, ok := want.Field(i).Interface().(string)
		if !ok || w == "" {
			continue
		}
		errs = append(errs, exact(extensionName(f), got.Field(i).String(), w))
	}
	trigger := s.BuildTrigger
	if trigger == "" {
		trigger = s.GithubWorkflowTrigger // certificates from before Fulcio's v2 extensions
	}
	if slices.Contains(id.RefuseTriggers, trigger) {
		errs = append(errs, fmt.Errorf("certificate build trigger is %q, which the policy refuses: such runs act with the repository's credentials on behalf of code or events from outside it (--allow-trigger %s accepts them)", trigger, trigger))
	}
	if src := id.Source; src != nil && strings.HasSuffix(src.Ref, "*") {
		p := strings.TrimSuffix(src.Ref, "*")
		if !strings.HasPrefix(s.SourceRepositoryRef, p) {
			errs = append(errs, fmt.Errorf("certificate source repository ref is %q, want one starting with %q", s.SourceRepositoryRef, p))
		}
	}
	return errors.Join(errs...)
}

// extensionName turns SourceRepositoryRef into "source repository ref".
func extensionName(f reflect.StructField) string {
	var b strings.Builder
	for i, r := range f.Name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.Replace(b.String(), " u r i", " URI", 1)
}

func exact(what, got, want string) error {
	if want != "" && got != want {
		return fmt.Errorf("certificate %s is %q, want %q", what, got, want)
	}
	return nil
}

func match(what, got, expr string) error {
	if expr == "" {
		return nil
	}
	ok, err := regexp.MatchString(expr, got)
	if err != nil {
		return fmt.Errorf("%s pattern %q: %w", what, expr, err)
	}
	if !ok {
		return fmt.Errorf("certificate %s is %q, which does not match %q", what, got, expr)
	}
	return nil
}

// inToto refuses a DSSE envelope that does not say it holds an in-toto
// statement: the payloadType is signed (DSSE's PAE covers it), and a
// signature over another type of document is not an attestation, however
// much its payload looks like one.
func inToto(payloadType string) error {
	if payloadType != predicate.InTotoPayloadType {
		return fmt.Errorf("DSSE envelope has payloadType %q, not %q: not an in-toto attestation", payloadType, predicate.InTotoPayloadType)
	}
	return nil
}

// aboutDigest checks that an in-toto statement names digest.
func aboutDigest(statement []byte, digest []byte) error {
	var st struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(statement, &st); err != nil {
		return fmt.Errorf("parsing statement: %w", err)
	}
	want := hex.EncodeToString(digest)
	for _, s := range st.Subject {
		if s.Digest["sha256"] == want {
			return nil
		}
	}
	return fmt.Errorf("%s statement is about another artifact, not sha256:%s (copied from another image?)", st.PredicateType, want)
}
