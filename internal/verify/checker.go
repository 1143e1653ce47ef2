package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/predicate"
)

// checker verifies signatures against one policy.
type checker struct {
	p        Policy
	now      func() time.Time
	key      signature.Verifier // keyed
	keyID    string
	verifier *sgverify.Verifier
	ident    sgverify.CertificateIdentity
}

func newChecker(p Policy, now func() time.Time) (*checker, error) {
	c := &checker{p: p, now: now}
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
	opts := []sgverify.VerifierOption{sgverify.WithObserverTimestamps(1)}
	if p.RequireTlog {
		opts = append(opts, sgverify.WithTransparencyLog(1))
	}
	if len(p.Trusted.CTLogs()) > 0 {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	if c.verifier, err = sgverify.NewVerifier(p.Trusted, opts...); err != nil {
		return nil, fmt.Errorf("building verifier: %w", err)
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
	// Say plainly when a valid attestation was copied from another image,
	// before sigstore-go's more general digest error.
	if env := pb.GetDsseEnvelope(); env != nil {
		if err := inToto(env.GetPayloadType()); err != nil {
			return nil, err
		}
		if err := aboutDigest(env.GetPayload(), digest); err != nil {
			return nil, err
		}
	}
	pol := []sgverify.PolicyOption{sgverify.WithKey()}
	if c.key == nil {
		pol = []sgverify.PolicyOption{sgverify.WithCertificateIdentity(c.ident)}
	}
	res, err := c.verifier.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", digest), pol...))
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

var sanMismatch = regexp.MustCompile(`expected SAN value to match regex "(.*)", got "(.*)"`)

// explainSigstore turns sigstore-go's errors into the failed check and
// what was found instead.
func explainSigstore(err error) error {
	msg := err.Error()
	switch {
	case sanMismatch.MatchString(msg):
		m := sanMismatch.FindStringSubmatch(msg)
		return fmt.Errorf("certificate identity is %q, which does not match %q", m[2], m[1])
	case strings.Contains(msg, "could not verify envelope"), strings.Contains(msg, "failed to verify signature"):
		return fmt.Errorf("signature does not verify: the payload or the signature was altered, or another key signed it (%w)", err)
	case strings.Contains(msg, "threshold not met for verified signed timestamps"), strings.Contains(msg, "observer timestamps"):
		return fmt.Errorf("no valid timestamp proves the short-lived certificate was valid when it signed (%w)", err)
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
	if slices.Contains(c.p.RefuseTriggers, trigger) {
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

// legacy verifies a layer of cosign's .sig or .att tag.
func (c *checker) legacy(l legacy.Layer, kind legacy.Kind, digestStr string, digest []byte) (*Finding, error) {
	f := &Finding{Kind: kind.String()}
	var verifier signature.Verifier
	var cert *x509.Certificate
	if c.key != nil {
		verifier, f.Signer = c.key, c.keyID
	} else {
		var err error
		if cert, err = legacyCertificate(l); err != nil {
			return nil, err
		}
		// A keyless certificate lives for minutes: it must have been valid
		// when a trusted timestamp authority or transparency log saw the
		// signature.
		times, err := c.legacyTimes(l, kind, cert)
		if err != nil {
			return nil, err
		}
		var chains [][]*x509.Certificate
		for _, t := range times {
			if chains, err = sgverify.VerifyLeafCertificate(t, cert, c.p.Trusted); err != nil {
				return nil, fmt.Errorf("certificate does not chain to a trusted Fulcio CA at %s: %w", t.Format(time.RFC3339), err)
			}
			if f.Time.IsZero() || t.Before(f.Time) {
				f.Time = t
			}
		}
		// As the bundle path does (WithSignedCertificateTimestamps): a
		// root that lists CT logs means Fulcio logs every certificate it
		// issues, and one it did not log was not issued in the open.
		if len(c.p.Trusted.CTLogs()) > 0 {
			if err := sgverify.VerifySignedCertificateTimestamp(chains, 1, c.p.Trusted); err != nil {
				return nil, fmt.Errorf("certificate carries no valid signed certificate timestamp from a trusted certificate transparency log: %w", err)
			}
		}
		sum, err := certificate.SummarizeCertificate(cert)
		if err != nil {
			return nil, fmt.Errorf("reading certificate: %w", err)
		}
		if err := c.identity(&sum); err != nil {
			return nil, err
		}
		f.Signer, f.Issuer, f.Certificate = sum.SubjectAlternativeName, sum.Issuer, &sum
		if verifier, err = signature.LoadDefaultVerifier(cert.PublicKey); err != nil {
			return nil, err
		}
	}
	switch kind {
	case legacy.Signature:
		sig, err := l.Signature()
		if err != nil {
			return nil, err
		}
		if err := verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(l.Payload)); err != nil {
			return nil, fmt.Errorf("signature does not verify: %w", err)
		}
		var p struct {
			Critical struct {
				Image struct {
					Digest string `json:"docker-manifest-digest"`
				} `json:"image"`
			} `json:"critical"`
		}
		if err := json.Unmarshal(l.Payload, &p); err != nil {
			return nil, fmt.Errorf("parsing simple-signing payload: %w", err)
		}
		if p.Critical.Image.Digest != digestStr {
			return nil, fmt.Errorf("payload signs %s, not this image (%s)", p.Critical.Image.Digest, digestStr)
		}
	case legacy.Attestation:
		var env struct {
			PayloadType string `json:"payloadType"`
			Payload     string `json:"payload"`
		}
		if err := json.Unmarshal(l.Payload, &env); err != nil {
			return nil, fmt.Errorf("parsing envelope: %w", err)
		}
		if err := inToto(env.PayloadType); err != nil {
			return nil, err
		}
		if err := dsse.WrapVerifier(verifier).VerifySignature(bytes.NewReader(l.Payload), nil); err != nil {
			return nil, fmt.Errorf("envelope signature does not verify: %w", err)
		}
		st, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			return nil, fmt.Errorf("decoding envelope payload: %w", err)
		}
		f.Statement = st
		var head struct {
			PredicateType string `json:"predicateType"`
		}
		_ = json.Unmarshal(st, &head)
		f.PredicateType = head.PredicateType
	}
	return f, nil
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

// legacyTimes verifies what proves when a keyless legacy layer was signed,
// the way cosign v2 reads it: a Rekor v1 entry (the bundle annotation, whose
// signed entry timestamp gives the integrated time) and an RFC 3161
// timestamp. When the policy requires the log, the entry must be there and
// verify; without it (--no-tlog, cosign's --insecure-ignore-tlog) the entry
// is not consulted. A timestamp present must verify, and something must
// prove the time.
func (c *checker) legacyTimes(l legacy.Layer, kind legacy.Kind, cert *x509.Certificate) ([]time.Time, error) {
	var times []time.Time
	if c.p.RequireTlog {
		raw := l.Annotations[legacy.AnnotationRekorBundle]
		if raw == "" {
			return nil, errors.New("no transparency-log entry (the signature was not logged in a Rekor v1 log), and the policy requires one (--no-tlog accepts a timestamp alone)")
		}
		t, err := c.rekorEntry(l, kind, cert, []byte(raw))
		if err != nil {
			return nil, fmt.Errorf("transparency-log entry: %w", err)
		}
		times = append(times, t)
	}
	ts, err := l.RFC3161Timestamp()
	if err != nil {
		return nil, err
	}
	if len(ts) > 0 {
		stamped := l.Payload // attestations: cosign timestamps the envelope
		if kind == legacy.Signature {
			if stamped, err = l.Signature(); err != nil {
				return nil, err
			}
		}
		t, err := c.timestamp(ts, stamped)
		if err != nil {
			return nil, err
		}
		times = append(times, t)
	}
	if len(times) == 0 {
		return nil, errors.New("no RFC 3161 timestamp and no transparency-log entry: nothing proves when the short-lived certificate signed")
	}
	return times, nil
}

// rekorEntry verifies cosign's Rekor bundle annotation: the signed entry
// timestamp with the trusted logs' keys, and that the entry logs this
// layer's signature, certificate and payload. It returns the integrated time.
func (c *checker) rekorEntry(l legacy.Layer, kind legacy.Kind, cert *x509.Certificate, raw []byte) (time.Time, error) {
	var rb struct {
		SignedEntryTimestamp []byte
		Payload              struct {
			Body           string `json:"body"`
			IntegratedTime int64  `json:"integratedTime"`
			LogIndex       int64  `json:"logIndex"`
			LogID          string `json:"logID"`
		}
	}
	if err := json.Unmarshal(raw, &rb); err != nil {
		return time.Time{}, fmt.Errorf("parsing the bundle annotation: %w", err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return time.Time{}, fmt.Errorf("decoding the entry body: %w", err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return time.Time{}, fmt.Errorf("decoding the log ID: %w", err)
	}
	entry, err := tlog.NewEntry(body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, logID, rb.SignedEntryTimestamp, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing the entry: %w", err)
	}
	if err := tlog.VerifySET(entry, c.p.Trusted.RekorLogs()); err != nil {
		return time.Time{}, fmt.Errorf("log %s, index %d: %w", rb.Payload.LogID, rb.Payload.LogIndex, err)
	}
	var (
		sig, hashed, got []byte
		ok               bool
	)
	switch kind {
	case legacy.Signature:
		if sig, err = l.Signature(); err != nil {
			return time.Time{}, err
		}
		h := sha256.Sum256(l.Payload)
		hashed = h[:]
		got, _, ok = entry.GetHashedRekordDigest()
	case legacy.Attestation:
		var env struct {
			Payload    []byte `json:"payload"`
			Signatures []struct {
				Sig []byte `json:"sig"`
			} `json:"signatures"`
		}
		if err := json.Unmarshal(l.Payload, &env); err != nil || len(env.Signatures) == 0 {
			return time.Time{}, fmt.Errorf("parsing envelope: %v", err)
		}
		sig = env.Signatures[0].Sig
		h := sha256.Sum256(env.Payload)
		hashed = h[:]
		got, ok = entry.GetDssePayloadHash()
	}
	if !ok || !bytes.Equal(got, hashed) {
		return time.Time{}, errors.New("the entry logs another payload")
	}
	if !bytes.Equal(entry.Signature(), sig) {
		return time.Time{}, errors.New("the entry logs another signature")
	}
	if logged, ok := entry.PublicKey().(*x509.Certificate); !ok || !logged.Equal(cert) {
		return time.Time{}, errors.New("the entry logs another certificate")
	}
	return entry.IntegratedTime(), nil
}

// timestamp verifies an RFC 3161 timestamp over data with the trusted
// timestamp authorities and returns the time it proves.
func (c *checker) timestamp(ts, data []byte) (time.Time, error) {
	var errs []error
	for _, tsa := range c.p.Trusted.TimestampingAuthorities() {
		t, err := tsa.Verify(ts, data)
		if err == nil {
			return t.Time, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return time.Time{}, errors.New("the trusted root has no timestamp authority")
	}
	return time.Time{}, fmt.Errorf("timestamp does not verify with a trusted timestamp authority: %w", errors.Join(errs...))
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
