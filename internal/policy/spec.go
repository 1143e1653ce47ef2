package policy

import (
	"crypto"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/keys"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/predicate"
	sealtrust "github.com/sealsign/seal/internal/trust"
	"github.com/sealsign/seal/internal/verify"
)

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
