package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	vsapb "github.com/in-toto/attestation/go/predicates/vsa/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sealsign/seal/internal/predicate"
)

// VerifierID names Seal's verifier in the VSAs it writes. It stays the same
// across releases so that consumers can pin it; the release is in
// verifier.version.
const VerifierID = "https://github.com/sealsign/seal/verify"

// The SLSA results a VSA can record (SLSA v1.0 SlsaResult).
const (
	LevelBuild0 = "SLSA_BUILD_LEVEL_0"
	LevelBuild1 = "SLSA_BUILD_LEVEL_1"
	LevelBuild2 = "SLSA_BUILD_LEVEL_2"
	LevelFailed = "FAILED"

	ResultPassed = "PASSED"
	ResultFailed = "FAILED"
)

// VSA is a SLSA Verification Summary predicate
// (https://slsa.dev/spec/v1.0/verification_summary), with v1.1's
// verifier.version, which v1.0 consumers ignore as an unknown field.
type VSA struct {
	Verifier           VSAVerifier   `json:"verifier"`
	TimeVerified       string        `json:"timeVerified"`
	ResourceURI        string        `json:"resourceUri"`
	Policy             VSAResource   `json:"policy"`
	InputAttestations  []VSAResource `json:"inputAttestations,omitempty"`
	VerificationResult string        `json:"verificationResult"`
	VerifiedLevels     []string      `json:"verifiedLevels"`
	SLSAVersion        string        `json:"slsaVersion"`
}

// VSAVerifier identifies the verifier.
type VSAVerifier struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// VSAResource is an in-toto ResourceDescriptor reduced to what a VSA uses.
type VSAResource struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest,omitempty"`
}

// VSAOptions are the facts of a verification run that are not in its
// report or policy.
type VSAOptions struct {
	// Time is when the verification ran.
	Time time.Time
	// Version is Seal's release.
	Version string
	// Recursive says every platform of an index was verified too.
	Recursive bool
}

// NewVSA summarizes a verification of rep.Image against p: passed is
// whether it passed. Every signature and attestation that verified is an
// input attestation, and the level is the one buildLevel can vouch for.
func NewVSA(rep *Report, p Policy, passed bool, o VSAOptions) (*VSA, error) {
	if _, _, err := splitImage(rep.Image); err != nil {
		return nil, err
	}
	if _, err := p.vsaRequirement(); err != nil {
		return nil, err
	}
	doc := p.Document(o.Recursive)
	v := &VSA{
		Verifier:           VSAVerifier{ID: VerifierID},
		TimeVerified:       o.Time.UTC().Format(time.RFC3339),
		ResourceURI:        rep.Image,
		Policy:             VSAResource{URI: doc.URI(), Digest: map[string]string{"sha256": doc.Digest()}},
		VerificationResult: ResultFailed,
		VerifiedLevels:     []string{LevelFailed},
		SLSAVersion:        "1.0",
	}
	if o.Version != "" {
		v.Verifier.Version = map[string]string{"seal": o.Version}
	}
	if passed {
		v.VerificationResult, v.VerifiedLevels = ResultPassed, []string{buildLevel(rep)}
	}
	for _, f := range rep.Findings {
		if f.Entry == "" || f.EntryDigest == "" {
			continue
		}
		alg, hx, _ := strings.Cut(f.EntryDigest, ":")
		v.InputAttestations = append(v.InputAttestations, VSAResource{URI: f.Entry, Digest: map[string]string{alg: hx}})
	}
	return v, nil
}

// Statement wraps the VSA in an in-toto Statement v1 about the image's
// digest, and checks both with the in-toto bindings.
func (v *VSA) Statement() ([]byte, error) {
	repo, digest, err := splitImage(v.ResourceURI)
	if err != nil {
		return nil, err
	}
	pred, err := marshalPlain(v, "")
	if err != nil {
		return nil, err
	}
	if _, err := ValidateVSA(pred); err != nil {
		return nil, err
	}
	compact, err := predicate.Statement(predicate.VSA, pred, &intoto.ResourceDescriptor{Name: repo, Digest: map[string]string{"sha256": digest}})
	if err != nil {
		return nil, err
	}
	// Indented: seal verify --vsa writes it for people to read before seal attest signs it.
	var buf bytes.Buffer
	if err := json.Indent(&buf, compact, "", "  "); err != nil {
		return nil, err
	}
	st := append(buf.Bytes(), '\n')
	if _, err := ReadVSA(st); err != nil {
		return nil, err
	}
	return st, nil
}

// marshalPlain is json.Marshal without escaping &, < and > (which policy
// URIs hold), indented when indent is set, ending in a newline.
func marshalPlain(v any, indent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// splitImage splits NAME@sha256:HEX.
func splitImage(image string) (repo, digest string, err error) {
	repo, d, ok := strings.Cut(image, "@")
	hx, sha := strings.CutPrefix(d, "sha256:")
	if !ok || !sha || len(hx) != 64 {
		return "", "", fmt.Errorf("%q is not an image reference with a sha256 digest", image)
	}
	if _, err := hex.DecodeString(hx); err != nil {
		return "", "", fmt.Errorf("%q is not an image reference with a sha256 digest", image)
	}
	return repo, hx, nil
}

// buildLevel is the SLSA Build level Seal can vouch for, for the weakest
// of the subjects verified: Build L2 where SLSA provenance verified with a
// keyless signature whose Fulcio certificate (issued from the CI's token)
// names a hosted runner, so that a hosted build platform signed it; Build
// L1 where provenance verified otherwise (a key, which says nothing about
// where the build ran, or a self-hosted runner); Build L0 without
// provenance. Never L3: Seal signs inside the job, whose own steps hold
// the same token and can attest provenance they wrote by hand; only the
// facts the certificate carries are held to it, not the build's steps or
// dependencies.
func buildLevel(rep *Report) string {
	level := map[string]int{rep.Image: 0}
	for _, f := range rep.Findings {
		l, ok := level[f.Subject]
		if !ok {
			level[f.Subject] = 0
		}
		if f.Kind != "attestation" || (f.PredicateType != predicate.SLSAProvenanceV1 && f.PredicateType != predicate.SLSAProvenanceV02) {
			continue
		}
		n := 1
		if c := f.Certificate; c != nil && (c.RunnerEnvironment == "github-hosted" || c.RunnerEnvironment == "gitlab-hosted") {
			n = 2
		}
		level[f.Subject] = max(l, n)
	}
	lowest := 2
	for _, l := range level {
		lowest = min(lowest, l)
	}
	return fmt.Sprintf("SLSA_BUILD_LEVEL_%d", lowest)
}

// PolicyDocument is the canonical description of the checks a Policy
// makes: a VSA's policy.digest is the SHA-256 of its JSON (Digest), and its
// policy.uri spells out the same checks as a seal:verify? query (URI).
type PolicyDocument struct {
	// Key is the SHA-256 of the verification key's PKIX DER encoding.
	Key string `json:"key,omitempty"`
	// Issuer, Subject and their patterns, and the certificate extensions
	// that must hold (by sigstore-go's JSON names), for keyless signers.
	Issuer          string            `json:"issuer,omitempty"`
	IssuerRegexp    string            `json:"issuerRegexp,omitempty"`
	Subject         string            `json:"subject,omitempty"`
	SubjectRegexp   string            `json:"subjectRegexp,omitempty"`
	Extensions      map[string]string `json:"extensions,omitempty"`
	SourceRefPrefix string            `json:"sourceRefPrefix,omitempty"`
	RefuseTriggers  []string          `json:"refuseTriggers,omitempty"`
	// RequireTlog applies to keyless signers.
	RequireTlog      bool     `json:"requireTlog"`
	RequireSignature bool     `json:"requireSignature"`
	Attestations     []string `json:"attestations,omitempty"`
	Provenance       *struct {
		SourceRepo   string `json:"sourceRepo,omitempty"`
		SourceRef    string `json:"sourceRef,omitempty"`
		BuilderID    string `json:"builderId,omitempty"`
		ProtectedRef bool   `json:"protectedRef,omitempty"`
	} `json:"provenance,omitempty"`
	// VSA is what a required Verification Summary must say.
	VSA *struct {
		Verifier     string `json:"verifier"`
		MinLevel     string `json:"minLevel,omitempty"`
		PolicyDigest string `json:"policyDigest,omitempty"`
	} `json:"vsa,omitempty"`
	Recursive bool `json:"recursive,omitempty"`
}

// Document describes the policy's checks; the trusted root (which CAs,
// timestamp authorities and logs are trusted) is not among them.
func (p Policy) Document(recursive bool) PolicyDocument {
	d := PolicyDocument{
		RequireTlog: p.RequireTlog, RequireSignature: p.RequireSignature, Recursive: recursive,
		Attestations: slices.Sorted(slices.Values(p.Attestations)),
	}
	if p.Key != nil {
		if der, err := x509.MarshalPKIXPublicKey(p.Key); err == nil {
			h := sha256.Sum256(der)
			d.Key = "sha256:" + hex.EncodeToString(h[:])
		}
	}
	if id := p.Identity; id != nil {
		d.Issuer, d.IssuerRegexp, d.Subject, d.SubjectRegexp = id.Issuer, id.IssuerRegexp, id.Subject, id.SubjectRegexp
		if b, err := json.Marshal(id.Extensions); err == nil {
			_ = json.Unmarshal(b, &d.Extensions)
		}
		if len(d.Extensions) == 0 {
			d.Extensions = nil
		}
		if id.Source != nil && strings.HasSuffix(id.Source.Ref, "*") {
			d.SourceRefPrefix = strings.TrimSuffix(id.Source.Ref, "*")
		}
		if len(id.RefuseTriggers) > 0 {
			d.RefuseTriggers = slices.Sorted(slices.Values(id.RefuseTriggers))
		}
	}
	if pc := p.Provenance; pc != nil {
		d.Provenance = &struct {
			SourceRepo   string `json:"sourceRepo,omitempty"`
			SourceRef    string `json:"sourceRef,omitempty"`
			BuilderID    string `json:"builderId,omitempty"`
			ProtectedRef bool   `json:"protectedRef,omitempty"`
		}{pc.SourceRepo, pc.SourceRef, pc.BuilderID, pc.ProtectedRef}
	}
	// A policy that failed validation verified nothing; its checks are
	// still told apart by what was asked.
	r, err := p.vsaRequirement()
	if err != nil {
		r = &VSARequirement{Verifier: p.VSA.VerifierID, MinLevel: p.VSA.MinLevel, Digest: p.VSA.PolicyDigest}
	}
	if r != nil {
		d.VSA = &struct {
			Verifier     string `json:"verifier"`
			MinLevel     string `json:"minLevel,omitempty"`
			PolicyDigest string `json:"policyDigest,omitempty"`
		}{r.Verifier, r.MinLevel, r.Digest}
	}
	return d
}

// JSON is the document's canonical encoding: fields in a fixed order, map
// keys sorted, no insignificant whitespace, no escaping beyond what JSON
// requires.
func (d PolicyDocument) JSON() []byte {
	b, _ := marshalPlain(d, "") // strings, bools and maps of strings always encode
	return bytes.TrimSuffix(b, []byte("\n"))
}

// Digest is the hex SHA-256 of JSON.
func (d PolicyDocument) Digest() string {
	h := sha256.Sum256(d.JSON())
	return hex.EncodeToString(h[:])
}

// URI spells out the document's checks as seal:verify?FIELD=VALUE&...,
// one parameter per field (repeated for lists; ext.NAME for extensions),
// sorted by name.
func (d PolicyDocument) URI() string {
	var m map[string]any
	_ = json.Unmarshal(d.JSON(), &m)
	q := url.Values{}
	var add func(prefix string, v any)
	add = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				add(strings.TrimPrefix(prefix+"."+k, "."), e)
			}
		case []any:
			for _, e := range v {
				add(prefix, e)
			}
		default:
			q.Add(strings.Replace(prefix, "extensions.", "ext.", 1), fmt.Sprint(v))
		}
	}
	add("", m)
	return "seal:verify?" + q.Encode()
}

// ValidateVSA reads a VSA predicate with the in-toto bindings (unknown
// fields ignored, as the spec's parsing rules ask) and checks the fields
// SLSA v1 requires, naming the one that is wrong.
func ValidateVSA(pred []byte) (*vsapb.VerificationSummary, error) {
	v := &vsapb.VerificationSummary{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(pred, v); err != nil {
		return nil, fmt.Errorf("%w: parsing verification summary: %v", predicate.ErrInvalid, err)
	}
	var errs []error
	need := func(field string, ok bool) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s is required", field))
		}
	}
	need("verifier.id", v.GetVerifier().GetId() != "")
	need("timeVerified", v.GetTimeVerified() != nil)
	need("resourceUri", v.GetResourceUri() != "")
	need("policy.uri", v.GetPolicy().GetUri() != "")
	need("verifiedLevels", len(v.GetVerifiedLevels()) > 0)
	if r := v.GetVerificationResult(); r != ResultPassed && r != ResultFailed {
		errs = append(errs, fmt.Errorf("verificationResult is %q, want PASSED or FAILED", r))
	}
	tracks := map[string]bool{}
	for _, l := range v.GetVerifiedLevels() {
		if m := levelTrack.FindStringSubmatch(l); m != nil {
			if tracks[m[1]] {
				errs = append(errs, fmt.Errorf("verifiedLevels names the SLSA %s track twice", strings.ToLower(m[1])))
			}
			tracks[m[1]] = true
		}
	}
	for i, a := range v.GetInputAttestations() {
		need(fmt.Sprintf("inputAttestations[%d].digest", i), len(a.GetDigest()) > 0)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: verification summary: %w", predicate.ErrInvalid, err)
	}
	return v, nil
}

var levelTrack = regexp.MustCompile(`^SLSA_([A-Z]+)_LEVEL_\d+$`)

// VSAStatement is a VSA statement read back.
type VSAStatement struct {
	// Digest is the hex SHA-256 of the statement's one subject.
	Digest    string
	Predicate json.RawMessage
	Summary   *vsapb.VerificationSummary
}

// ReadVSA reads a VSA statement as `seal verify --vsa` writes it: an
// in-toto Statement v1 (checked by the in-toto bindings) with a VSA
// predicate about one sha256 digest, which resourceUri names too when it
// names one.
func ReadVSA(statement []byte) (*VSAStatement, error) {
	st := &intoto.Statement{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(statement, st); err != nil {
		return nil, fmt.Errorf("%w: parsing in-toto statement: %v", predicate.ErrInvalid, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: in-toto statement: %v", predicate.ErrInvalid, err)
	}
	if st.GetPredicateType() != predicate.VSA {
		return nil, fmt.Errorf("%w: predicateType is %q, not %q", predicate.ErrInvalid, st.GetPredicateType(), predicate.VSA)
	}
	if len(st.GetSubject()) != 1 || len(st.GetSubject()[0].GetDigest()["sha256"]) != 64 {
		return nil, fmt.Errorf("%w: a verification summary statement must have one subject with a sha256 digest", predicate.ErrInvalid)
	}
	var raw struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(statement, &raw); err != nil {
		return nil, fmt.Errorf("%w: parsing in-toto statement: %v", predicate.ErrInvalid, err)
	}
	sum, err := ValidateVSA(raw.Predicate)
	if err != nil {
		return nil, err
	}
	digest := strings.ToLower(st.GetSubject()[0].GetDigest()["sha256"])
	if err := ResourceDigest(sum.GetResourceUri(), digest); err != nil {
		return nil, fmt.Errorf("%w: %v", predicate.ErrInvalid, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw.Predicate); err != nil {
		return nil, err
	}
	return &VSAStatement{Digest: digest, Predicate: compact.Bytes(), Summary: sum}, nil
}

// resourceDigests finds sha256 digests in a resource URI: NAME@sha256:HEX,
// or a purl's percent-encoded sha256%3AHEX.
var resourceDigests = regexp.MustCompile(`(?i)sha256(?::|%3A)([0-9a-f]{64})`)

// ResourceDigest checks that every digest the resource URI names is want.
// A URI naming none (a repository, as other verifiers write) is bound to
// the image by the statement's subject alone. The repository is not
// compared: promotion copies an image, digest and all, to another one.
func ResourceDigest(uri, want string) error {
	for _, m := range resourceDigests.FindAllStringSubmatch(uri, -1) {
		if !strings.EqualFold(m[1], want) {
			return fmt.Errorf("resourceUri %q names another artifact than the subject, sha256:%s", uri, want)
		}
	}
	return nil
}

// checkVSA refuses a VSA that does not vouch for this image: only a PASSED
// verification, with no FAILED level, of the resource whose digest this
// is satisfies a requirement for one; and, when the policy requires a
// summary (req), one that says what req asks.
func checkVSA(pred []byte, digest []byte, req *VSARequirement) error {
	v, err := ValidateVSA(pred)
	if err != nil {
		return err
	}
	if r := v.GetVerificationResult(); r != ResultPassed {
		return fmt.Errorf("verification summary records verificationResult %s (verifier %s, policy %s)", r, v.GetVerifier().GetId(), v.GetPolicy().GetUri())
	}
	if slices.Contains(v.GetVerifiedLevels(), LevelFailed) {
		return errors.New("verification summary says PASSED but lists a FAILED level")
	}
	if err := ResourceDigest(v.GetResourceUri(), hex.EncodeToString(digest)); err != nil {
		return err
	}
	if req != nil {
		return req.Check(v)
	}
	return nil
}
