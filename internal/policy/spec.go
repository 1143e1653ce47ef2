package policy

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/keys"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/predicate"
	sealtrust "github.com/sealsign/seal/internal/trust"
	"github.com/sealsign/seal/internal/verify"
)

// Engine is an admission controller Seal writes policies for.
type Engine string

// Engines.
const (
	// Kyverno's ClusterPolicy with a verifyImages rule (kyverno.io/v1).
	Kyverno Engine = "kyverno"
	// Sigstore policy-controller's ClusterImagePolicy
	// (policy.sigstore.dev/v1beta1), with a TrustRoot for a private instance.
	PolicyController Engine = "policy-controller"
)

// ParseEngine reads "kyverno" or "policy-controller".
func ParseEngine(s string) (Engine, error) {
	switch e := Engine(s); e {
	case Kyverno, PolicyController:
		return e, nil
	}
	return "", fmt.Errorf("unknown policy engine %q (use kyverno or policy-controller)", s)
}

// Predicate types the short attestation names stand for.
const (
	SLSAProvenanceV1 = predicate.SLSAProvenanceV1
	SPDX             = predicate.SPDX
	CycloneDX        = predicate.CycloneDX
	Vuln             = predicate.Vuln
	// VSA is a SLSA Verification Summary, which `seal verify --vsa`
	// writes and `seal attest --vsa` signs.
	VSA = predicate.VSA
	// CosignSign is the predicate type of a cosign v3 (and Seal) image
	// signature in bundle format: a DSSE in-toto statement about the digest.
	CosignSign = predicate.CosignSign
)

// ResolveAttestation turns a name or a predicate type URI into a predicate
// type URI, as predicate.Required does for `seal verify`, but one type:
// an engine requires every attestation a policy lists, and cannot take
// one type for another. So "slsaprovenance" (or "provenance"), which
// `seal verify` accepts in SLSA v1 or v0.2, means SLSA v1 here, the
// provenance Seal writes and the policies' provenance checks read; the
// policy's header says so. Ask for v0.2 by "slsaprovenance02" or its URI.
func ResolveAttestation(s string) (string, error) {
	if strings.EqualFold(s, "provenance") {
		s = "slsaprovenance"
	}
	types, err := predicate.Required(s)
	if err != nil {
		return "", fmt.Errorf("attestation: %w", err)
	}
	u := types[0] // SLSA v1 first among the provenance versions
	if len(types) > 1 && u != SLSAProvenanceV1 {
		return "", fmt.Errorf("attestation %q: no one predicate type stands for %s", s, strings.Join(types, " or "))
	}
	// Admission engines match predicate types as https URLs.
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return "", fmt.Errorf("attestation %q: want an https:// predicate type URI", s)
	}
	if err := identity.Printable(u); err != nil {
		return "", fmt.Errorf("attestation %q: %w", s, err)
	}
	return u, nil
}

// Spec is what a policy accepts.
type Spec struct {
	// Name is the policy's metadata.name; derived from the identity when
	// empty.
	Name string
	// Images are globs of the image references the policy governs, in
	// policy-controller's syntax ("*" within a path segment, "**" across
	// them); Kyverno, which knows only "*", gets "**" as "*".
	Images []string
	// Identity is the keyless signer; set it or PublicKey.
	Identity *identity.Identity
	// PublicKey is the PEM public key of a keyed signer (cosign.pub).
	PublicKey []byte
	// Attestations are predicate types (ResolveAttestation) that must be
	// attested by the same signer. For SLSA v1 provenance from a preset
	// identity, the policy also checks the provenance's source repository,
	// builder, and the preset's ref, runner and protection requirements.
	Attestations []string
	// NoSignature drops the image signature requirement: the image is
	// admitted on its SLSA Verification Summary alone, which must then be
	// the one attestation (as `seal verify --no-signature --attestation
	// vsa` admits it). The summary's signer is the Identity or PublicKey:
	// the promotion job that verified the image and attested the summary.
	NoSignature bool
	// VSA is what a Verification Summary among the Attestations must say
	// beyond PASSED with no FAILED level: what `seal verify` asks of one
	// with the same flags.
	VSA verify.VSACheck
	// Format is where signatures are looked for.
	Format oci.Format
	// TrustedRoot is a trusted_root.json for a private Sigstore instance;
	// empty means the public-good instance.
	TrustedRoot []byte
	// RekorURL overrides the transparency log's URL (default: the trusted
	// root's, else trust.PublicRekor).
	RekorURL string
	// NoTlog accepts signatures without a transparency-log entry: what Seal
	// writes for private repositories. Keyless signatures then need a
	// timestamp from a timestamp authority the trust root names.
	NoTlog bool
	// KyvernoKind is the kind of Kyverno policy; empty means
	// ClusterPolicyKind, what Generate wrote before ImageValidatingPolicy.
	KyvernoKind KyvernoKind
	// TUFMirror and TUFRoot (its root.json) are the TUF repository a Kyverno
	// ImageValidatingPolicy initialises its Sigstore client from; empty
	// means the public instance's. Only that kind names one.
	TUFMirror string
	TUFRoot   []byte
}

// Generate writes the policy for engine as YAML, ready for kubectl apply:
// a ClusterPolicy for Kyverno; a ClusterImagePolicy, preceded by its
// TrustRoot for a private instance, for policy-controller.
//
// It refuses a Spec the engine cannot enforce as asked, rather than write a
// policy weaker than its flags say: for instance a requirement that only a
// certificate extension the engine ignores carries, without the
// provenance attestation that would let the policy check it there.
func Generate(engine Engine, s Spec) ([]byte, error) {
	p, err := s.prepare()
	if err != nil {
		return nil, err
	}
	switch engine {
	case Kyverno:
		if p.KyvernoKind == ImageValidatingPolicyKind {
			return kyvernoIVP(p)
		}
		if p.TUFMirror != "" {
			return nil, errors.New("a TUF mirror is written only into a Kyverno ImageValidatingPolicy: a ClusterPolicy's SigstoreBundle verifier takes Kyverno's --tufMirror and --tufRoot")
		}
		return kyverno(p)
	case PolicyController:
		if p.KyvernoKind != "" && p.KyvernoKind != ClusterPolicyKind {
			return nil, fmt.Errorf("kyverno policy kind %q given for policy-controller", p.KyvernoKind)
		}
		if p.TUFMirror != "" {
			return nil, errors.New("a TUF mirror is written only into a Kyverno ImageValidatingPolicy; policy-controller takes a private instance's trust from the TrustRoot Seal writes with --trusted-root")
		}
		return policyController(p)
	}
	return nil, fmt.Errorf("unknown policy engine %q", engine)
}

// prepared is a validated Spec with its inputs parsed.
type prepared struct {
	Spec
	name  string
	key   *publicKey
	trust *trust
	rekor string // transparency log URL, when the log is required
	// provenance reports that SLSA v1 provenance is attested, so preset
	// checks can be made on it.
	provenance bool
	// vsa reports that a Verification Summary is attested; vsaReq is what
	// it must say.
	vsa    bool
	vsaReq *vsaRequirement
}

var (
	dnsLabel  = regexp.MustCompile(`[^a-z0-9-]+`)
	imageGlob = regexp.MustCompile(`^[a-zA-Z0-9-_:/*.@]+$`)
)

func (s Spec) prepare() (*prepared, error) {
	p := &prepared{Spec: s}
	if len(s.Images) == 0 {
		return nil, errors.New("no images: give the image globs the policy applies to")
	}
	for _, g := range s.Images {
		// policy-controller's own rule for globs.
		if !imageGlob.MatchString(g) {
			return nil, fmt.Errorf("image glob %q: only letters, digits and -_:/*.@ are allowed", g)
		}
	}
	switch s.Format {
	case oci.Bundle, oci.Legacy:
	default:
		return nil, fmt.Errorf("signature format %q: a policy reads one format (use bundle or legacy)", s.Format)
	}
	switch {
	case s.Identity != nil && len(s.PublicKey) > 0:
		return nil, errors.New("give a keyless identity or a public key, not both")
	case s.Identity != nil:
		if err := s.Identity.Validate(); err != nil {
			return nil, err
		}
		if s.Identity.Source == nil && s.Identity.Extensions != (certificate.Extensions{}) {
			// The presets know which extensions an engine can replace with
			// the subject or the provenance; a raw identity does not.
			return nil, errors.New("certificate extensions can only be required through a preset (GitHub or GitLab)")
		}
		if len(s.Identity.RefuseTriggers) > 0 && (s.Identity.Source == nil || s.Identity.Source.CI != identity.CIGitHub) {
			// The engines read a trigger only in GitHub's workflow-trigger
			// extension.
			return nil, errors.New("refused triggers can only be written for the GitHub preset")
		}
	case len(s.PublicKey) > 0:
		k, err := parsePublicKey(s.PublicKey)
		if err != nil {
			return nil, err
		}
		p.key = k
	default:
		return nil, errors.New("no signer: give a keyless identity or a public key")
	}
	seen := map[string]bool{}
	p.Attestations = nil
	for _, a := range s.Attestations {
		t, err := ResolveAttestation(a)
		if err != nil {
			return nil, err
		}
		if t == CosignSign {
			return nil, fmt.Errorf("attestation %q is the image signature, which every policy requires", a)
		}
		if !seen[t] {
			seen[t] = true
			p.Attestations = append(p.Attestations, t)
		}
		if t == SLSAProvenanceV1 {
			p.provenance = true
		}
		if t == VSA {
			p.vsa = true
		}
	}
	if err := p.prepareVSA(); err != nil {
		return nil, err
	}
	if len(s.TrustedRoot) > 0 {
		t, err := parseTrust(s.TrustedRoot)
		if err != nil {
			return nil, err
		}
		p.trust = t
	}
	if s.RekorURL != "" {
		if err := checkURL(s.RekorURL); err != nil {
			return nil, fmt.Errorf("transparency log URL %q: %w", s.RekorURL, err)
		}
	}
	if !s.NoTlog {
		p.rekor = s.RekorURL
		if p.rekor == "" && p.trust != nil {
			p.rekor = p.trust.rekorURL
		}
		if p.rekor == "" {
			if p.trust != nil {
				return nil, errors.New("the trusted root names no transparency log: pass --no-tlog, or --rekor-url with a root that has the log's key")
			}
			p.rekor = sealtrust.PublicRekor
		}
		if p.trust != nil && p.trust.rekorKey == "" {
			return nil, errors.New("the trusted root has no transparency log key: pass --no-tlog or a root that has one")
		}
		if err := checkURL(p.rekor); err != nil {
			return nil, fmt.Errorf("transparency log URL %q: %w", p.rekor, err)
		}
	} else if s.RekorURL != "" {
		return nil, errors.New("--rekor-url and --no-tlog contradict each other")
	}
	switch s.KyvernoKind {
	case "", ClusterPolicyKind, ImageValidatingPolicyKind:
	default:
		return nil, fmt.Errorf("unknown kyverno policy kind %q (use imagevalidatingpolicy or clusterpolicy)", s.KyvernoKind)
	}
	if (s.TUFMirror == "") != (len(s.TUFRoot) == 0) {
		return nil, errors.New("give a TUF mirror and its root.json together")
	}
	if s.TUFMirror != "" {
		if err := checkURL(s.TUFMirror); err != nil {
			return nil, fmt.Errorf("TUF mirror %q: %w", s.TUFMirror, err)
		}
	}
	if s.Identity != nil && s.NoTlog && p.trust != nil && p.trust.tsaChain == "" {
		return nil, errors.New("keyless signatures without a transparency log need a timestamp authority, and the trusted root names none")
	}
	p.name = s.Name
	if p.name == "" {
		p.name = defaultName(s)
	}
	if len(p.name) > 63 || dnsLabel.MatchString(p.name) || strings.HasPrefix(p.name, "-") || strings.HasSuffix(p.name, "-") {
		return nil, fmt.Errorf("policy name %q: want lowercase letters, digits and -, at most 63 characters", p.name)
	}
	return p, nil
}

// pinSource refuses a preset identity that engine, in p's format, cannot
// tie to its repository through the certificate. The subject cannot do it
// (see identity.Identity): it names the workflow or CI configuration file
// that ran, which other repositories can run too. Only the Source
// Repository URI extension, or GitHub's deprecated workflow-repository
// extension, names the repository that ran, and what the engines read of
// a certificate is:
//
//   - Kyverno, Cosign type (legacy): issuer, subject, and through
//     keyless.additionalExtensions the GitHub workflow extensions cosign's
//     CertExtensions knows (trigger, sha, name, repository, ref).
//   - Kyverno, SigstoreBundle type: issuer and subject (sigstore-go's
//     NewShortCertificateIdentity); additionalExtensions is ignored and
//     attestation conditions see the statement only.
//   - policy-controller, legacy: issuer and subject in an authority, and
//     the same GitHub extensions in the CIP-level policy's input
//     (authorityMatches.NAME.signatures[].githubWorkflowRepo).
//   - policy-controller v0.13.1 and v0.15.1, bundle: issuer and subject;
//     cosign (v2.5 and v3.0 inside) hands it each verified bundle as a bare
//     attestation without its certificate, so the CIP-level policy sees no
//     extension at all.
//
// So only GitHub identities in the legacy format can be pinned. Seal's
// provenance cannot stand in: it is what the signer says, and the
// signer is who is in question.
func (p *prepared) pinSource(engine Engine) error {
	if p.Identity == nil || p.Identity.Source == nil {
		return nil
	}
	src := p.Identity.Source
	if src.CI == identity.CIGitHub && p.Format == oci.Legacy {
		return nil
	}
	var reads string
	switch {
	case engine == Kyverno && p.Format == oci.Bundle:
		reads = "kyverno's SigstoreBundle verifier (--format bundle) checks only a certificate's issuer and subject: it ignores keyless.additionalExtensions, and its attestation conditions see no certificate field"
	case engine == Kyverno:
		reads = "kyverno's Cosign verifier (--format legacy) reads only GitHub's workflow extensions (keyless.additionalExtensions), which a GitLab certificate does not have"
	case p.Format == oci.Bundle:
		reads = "policy-controller v0.13.1 and v0.15.1 (--format bundle) check only a bundle's certificate issuer and subject, and hands its policies none of the certificate's extensions"
	default:
		reads = "policy-controller (--format legacy) hands its policies only GitHub's workflow extensions, which a GitLab certificate does not have"
	}
	// `seal verify` takes the same identity flags.
	verify := "seal verify --github-repo " + src.Repository
	if src.CI == identity.CIGitLab {
		verify = "seal verify --gitlab-project " + src.Repository
	}
	if host := strings.TrimPrefix(strings.TrimSuffix(src.RepositoryURI, "/"+src.Repository), "https://"); host != "github.com" && host != "gitlab.com" {
		verify += " --" + src.CI + "-host " + host
	}
	var why, instead string
	if src.CI == identity.CIGitHub {
		why = "the subject names the workflow file that ran, and any repository can call a workflow of " + src.Repository +
			" that is `on: workflow_call` and get a certificate with this subject; only the Source Repository URI extension names the repository that ran"
		instead = "use --format legacy, where " + string(engine) + " checks GitHub's workflow-repository extension (Seal publishes both formats by default), or check images with `" + verify + "`"
	} else {
		why = "the subject names the CI configuration file, and any project can take a file of " + src.Repository +
			" as its CI configuration and get a certificate with this subject; only the Source Repository URI extension names the project that ran"
		instead = "check images with `" + verify + "` before they are deployed: no " + string(engine) + " policy can check this in either format"
	}
	return fmt.Errorf("%s cannot tell signatures of %s from another repository's in the %s format: %s; %s (the provenance the signer attests is its own claim, not evidence). Instead, %s",
		engine, src.RepositoryURI, p.Format, reads, why, instead)
}

// needProvenance refuses a preset requirement the engine cannot check in
// the certificate when no provenance is attested to check it in instead.
// What is left to the provenance comes from a run of the repository the
// certificate names (pinSource), so only that repository's own runs can
// claim it falsely.
func (p *prepared) needProvenance(engine Engine) error {
	if p.Identity == nil || p.Identity.Source == nil || p.provenance {
		return nil
	}
	src := p.Identity.Source
	var why []string
	if src.RefProtected {
		why = append(why, "no certificate field says whether the ref is protected")
	}
	if src.RunnerEnvironment != "" {
		why = append(why, string(engine)+" cannot read the certificate's Runner Environment extension")
	}
	if len(why) == 0 {
		return nil
	}
	if p.NoSignature {
		// The summary is the promotion job's, whose own runner and ref the
		// policy would have to check; the engines can read neither.
		return fmt.Errorf("%s cannot check this of the promotion job that attested the verification summary, and no provenance is attested with a summary: %s; drop --hosted-runners-only and --protected-ref-only", engine, strings.Join(why, "; "))
	}
	return fmt.Errorf("this identity needs --attestation slsaprovenance, so that the policy checks it in Seal's provenance: %s", strings.Join(why, "; "))
}

// pinExtensions refuses a preset requirement on a certificate extension
// that engine cannot read and the provenance cannot stand in for. Of a
// certificate the engines read, beyond issuer and subject, only GitHub's
// workflow extensions (pinSource): the repository and ref are checked
// there, the refused triggers in the workflow-trigger extension, and the
// runner in the provenance (needProvenance). The numeric repository and
// owner ids (Source Repository Identifier and Owner Identifier) are in no
// extension an engine reads, and the provenance cannot stand in for them:
// they tell a repository from another one re-created under its name,
// whose runs attest what they like.
func (p *prepared) pinExtensions(engine Engine) error {
	if p.Identity == nil || p.Identity.Source == nil {
		return nil
	}
	rest := p.Identity.Extensions
	rest.SourceRepositoryURI, rest.SourceRepositoryRef, rest.RunnerEnvironment = "", "", ""
	if rest == (certificate.Extensions{}) {
		return nil
	}
	src := p.Identity.Source
	flags, verify := "--github-repo-id and --github-owner-id", "seal verify --github-repo "+src.Repository
	if src.CI == identity.CIGitLab {
		flags, verify = "--gitlab-project-id and --gitlab-namespace-id", "seal verify --gitlab-project "+src.Repository
	}
	if ids := rest.SourceRepositoryIdentifier != "" || rest.SourceRepositoryOwnerIdentifier != ""; ids {
		rest.SourceRepositoryIdentifier, rest.SourceRepositoryOwnerIdentifier = "", ""
		if rest == (certificate.Extensions{}) {
			return fmt.Errorf("%s cannot check the numeric repository and owner ids (%s): of a certificate's extensions it reads only GitHub's workflow extensions (trigger, sha, name, repository, ref), not Source Repository Identifier (1.3.6.1.4.1.57264.1.15) or Source Repository Owner Identifier (1.3.6.1.4.1.57264.1.17); the provenance cannot stand in, being the claim of whoever signed, and a repository re-created under the name signs as it likes. Drop the id flags for the policy (it then pins the repository by name) and check images with `%s` and the ids before they are deployed",
				engine, flags, verify)
		}
	}
	return fmt.Errorf("%s cannot check the certificate extensions %+v that this identity requires", engine, rest)
}

// checkURL accepts an http(s) URL of printable characters, as the
// engines take a log's or a certificate authority's.
func checkURL(s string) error {
	if err := identity.Printable(s); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("want an https:// URL")
	}
	return nil
}

func defaultName(s Spec) string {
	base := "seal-image-policy"
	if s.Identity != nil && s.Identity.Source != nil {
		base = "seal-" + s.Identity.Source.Repository
	}
	n := dnsLabel.ReplaceAllString(strings.ToLower(base), "-")
	if len(n) > 63 {
		n = n[:63]
	}
	return strings.Trim(n, "-")
}

// publicKey is a parsed signer key.
type publicKey struct {
	pem []byte
	// hash is what the key's signatures are made with, when not SHA-256
	// (Seal signs P-384 with SHA-384 and P-521 with SHA-512, as cosign
	// does); engines default to SHA-256.
	hash string
}

func parsePublicKey(b []byte) (*publicKey, error) {
	k, err := keys.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	out := &publicKey{pem: k.PEM()}
	switch k.HashFunc() {
	case crypto.SHA384:
		out.hash = "sha384"
	case crypto.SHA512:
		out.hash = "sha512"
	}
	return out, nil
}

// trust is what the policies need of a trusted_root.json.
type trust struct {
	cas []ca
	// fulcioURL is the first CA's URI.
	fulcioURL string
	// fulcioChain is every CA certificate, PEM (Kyverno's roots).
	fulcioChain string
	// tsas are the timestamp authorities; tsaChain is the first one's
	// chain, leaf first, PEM (Kyverno takes one).
	tsas     []ca
	tsaChain string
	tlogs    []tlog
	rekorURL string
	rekorKey string // PEM of the first transparency log's key
	ctlogs   []tlog
	ctKey    string
}

type ca struct {
	org, cn, uri string
	chain        []byte // PEM, leaf (if any) first, root last
}

type tlog struct {
	url, hash string
	key       []byte // PEM
}

func parseTrust(b []byte) (*trust, error) {
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("reading trusted root: %w", err)
	}
	t := &trust{}
	for _, c := range tr.FulcioCertificateAuthorities() {
		f, ok := c.(*root.FulcioCertificateAuthority)
		if !ok || f.Root == nil {
			continue
		}
		chain := append(append([]*x509.Certificate{}, f.Intermediates...), f.Root)
		t.cas = append(t.cas, newCA(f.Root, f.URI, chain, "fulcio"))
	}
	if len(t.cas) > 0 {
		t.fulcioURL = t.cas[0].uri
		var all []byte
		for _, c := range t.cas {
			all = append(all, c.chain...)
		}
		t.fulcioChain = string(all)
	}
	for _, a := range tr.TimestampingAuthorities() {
		s, ok := a.(*root.SigstoreTimestampingAuthority)
		if !ok || s.Root == nil {
			continue
		}
		var chain []*x509.Certificate
		if s.Leaf != nil {
			chain = append(chain, s.Leaf)
		}
		chain = append(append(chain, s.Intermediates...), s.Root)
		t.tsas = append(t.tsas, newCA(s.Root, s.URI, chain, "tsa"))
	}
	if len(t.tsas) > 0 {
		t.tsaChain = string(t.tsas[0].chain)
	}
	t.tlogs, err = logs(tr.RekorLogs())
	if err != nil {
		return nil, err
	}
	if len(t.tlogs) > 0 {
		t.rekorURL, t.rekorKey = t.tlogs[0].url, string(t.tlogs[0].key)
	}
	t.ctlogs, err = logs(tr.CTLogs())
	if err != nil {
		return nil, err
	}
	if len(t.ctlogs) > 0 {
		t.ctKey = string(t.ctlogs[0].key)
	}
	if len(t.cas) == 0 && len(t.tsas) == 0 {
		return nil, errors.New("trusted root names no certificate authority and no timestamp authority")
	}
	return t, nil
}

func newCA(rootCert *x509.Certificate, uri string, chain []*x509.Certificate, what string) ca {
	c := ca{org: what, cn: what, uri: uri}
	if o := rootCert.Subject.Organization; len(o) > 0 && o[0] != "" {
		c.org = o[0]
	}
	if rootCert.Subject.CommonName != "" {
		c.cn = rootCert.Subject.CommonName
	}
	if c.uri == "" {
		c.uri = "https://" + what + ".invalid"
	}
	var buf bytes.Buffer
	for _, cert := range chain {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	c.chain = buf.Bytes()
	return c
}

// logs lists transparency logs in a stable order (the trusted root keeps
// them in a map).
func logs(m map[string]*root.TransparencyLog) ([]tlog, error) {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []tlog
	for _, id := range ids {
		l := m[id]
		if l.PublicKey == nil {
			continue
		}
		der, err := x509.MarshalPKIXPublicKey(l.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("encoding the key of log %s: %w", l.BaseURL, err)
		}
		h := "sha-256"
		switch l.HashFunc {
		case crypto.SHA384:
			h = "sha-384"
		case crypto.SHA512:
			h = "sha-512"
		}
		out = append(out, tlog{url: l.BaseURL, hash: h, key: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})})
	}
	return out, nil
}
