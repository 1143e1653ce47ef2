package policy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/sealsign/seal/internal/identity"
)

// KyvernoKind is the kind of Kyverno policy Seal writes.
type KyvernoKind string

// Kyverno policy kinds.
const (
	// ClusterPolicyKind is kyverno.io/v1 ClusterPolicy with a verifyImages
	// rule: deprecated since Kyverno 1.17 (removal planned for 1.20), the
	// only kind in which Kyverno checks a certificate extension.
	ClusterPolicyKind KyvernoKind = "clusterpolicy"
	// ImageValidatingPolicyKind is policies.kyverno.io/v1
	// ImageValidatingPolicy, whose checks are CEL expressions (stable since
	// Kyverno 1.17).
	ImageValidatingPolicyKind KyvernoKind = "imagevalidatingpolicy"
)

// ParseKyvernoKind reads "imagevalidatingpolicy" or "clusterpolicy".
func ParseKyvernoKind(s string) (KyvernoKind, error) {
	switch k := KyvernoKind(strings.ToLower(s)); k {
	case ClusterPolicyKind, ImageValidatingPolicyKind:
		return k, nil
	}
	return "", fmt.Errorf("unknown kyverno policy kind %q (use imagevalidatingpolicy or clusterpolicy)", s)
}

// Kyverno's ImageValidatingPolicy (policies.kyverno.io/v1), the fields
// Seal writes. Field names and tags follow Kyverno's
// api/policies.kyverno.io/v1alpha1 types, which v1 aliases.
type ivpPolicy struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   metadata `yaml:"metadata"`
	Spec       ivpSpec  `yaml:"spec"`
}

type ivpSpec struct {
	// Verification belongs to admission, as in the ClusterPolicy.
	Evaluation           ivpEvaluation     `yaml:"evaluation"`
	WebhookConfiguration ivpWebhook        `yaml:"webhookConfiguration"`
	FailurePolicy        string            `yaml:"failurePolicy"`
	ValidationActions    []string          `yaml:"validationActions"`
	MatchConstraints     ivpMatch          `yaml:"matchConstraints"`
	MatchImageReferences []ivpImageRef     `yaml:"matchImageReferences"`
	ValidationConfig     ivpValidationConf `yaml:"validationConfigurations"`
	Attestors            []ivpAttestor     `yaml:"attestors"`
	Attestations         []ivpAttestation  `yaml:"attestations,omitempty"`
	Variables            []ivpNamedCEL     `yaml:"variables"`
	Validations          []ivpValidation   `yaml:"validations"`
}

type ivpEvaluation struct {
	Background ivpEnabled `yaml:"background"`
}

type ivpEnabled struct {
	Enabled bool `yaml:"enabled"`
}

type ivpWebhook struct {
	TimeoutSeconds int `yaml:"timeoutSeconds"`
}

type ivpMatch struct {
	ResourceRules []ivpResourceRule `yaml:"resourceRules"`
}

type ivpResourceRule struct {
	APIGroups   []string `yaml:"apiGroups"`
	APIVersions []string `yaml:"apiVersions"`
	Operations  []string `yaml:"operations"`
	Resources   []string `yaml:"resources"`
}

type ivpImageRef struct {
	Glob string `yaml:"glob"`
}

type ivpValidationConf struct {
	MutateDigest bool `yaml:"mutateDigest"`
	VerifyDigest bool `yaml:"verifyDigest"`
	Required     bool `yaml:"required"`
}

type ivpAttestor struct {
	Name   string     `yaml:"name"`
	Cosign *ivpCosign `yaml:"cosign"`
}

type ivpCosign struct {
	Key         *ivpKey     `yaml:"key,omitempty"`
	Keyless     *ivpKeyless `yaml:"keyless,omitempty"`
	CTLog       *ivpCTLog   `yaml:"ctlog,omitempty"`
	TUF         *ivpTUF     `yaml:"tuf,omitempty"`
	TrustedRoot *ivpValue   `yaml:"trustedRoot,omitempty"`
}

type ivpKey struct {
	Data          string `yaml:"data"`
	HashAlgorithm string `yaml:"hashAlgorithm,omitempty"`
}

type ivpKeyless struct {
	Identities []ivpIdentity `yaml:"identities"`
	Roots      string        `yaml:"roots,omitempty"`
}

type ivpIdentity struct {
	Issuer        string `yaml:"issuer,omitempty"`
	Subject       string `yaml:"subject,omitempty"`
	IssuerRegExp  string `yaml:"issuerRegExp,omitempty"`
	SubjectRegExp string `yaml:"subjectRegExp,omitempty"`
}

type ivpCTLog struct {
	URL                string `yaml:"url,omitempty"`
	RekorPubKey        string `yaml:"rekorPubKey,omitempty"`
	CTLogPubKey        string `yaml:"ctLogPubKey,omitempty"`
	TSACertChain       string `yaml:"tsaCertChain,omitempty"`
	InsecureIgnoreTlog bool   `yaml:"insecureIgnoreTlog,omitempty"`
	InsecureIgnoreSCT  bool   `yaml:"insecureIgnoreSCT,omitempty"`
}

type ivpTUF struct {
	Mirror string     `yaml:"mirror"`
	Root   ivpTUFRoot `yaml:"root"`
}

type ivpTUFRoot struct {
	Data string `yaml:"data"`
}

type ivpValue struct {
	Value string `yaml:"value"`
}

type ivpAttestation struct {
	Name   string    `yaml:"name"`
	InToto ivpInToto `yaml:"intoto"`
}

type ivpInToto struct {
	Type string `yaml:"type"`
}

type ivpNamedCEL struct {
	Name       string `yaml:"name"`
	Expression string `yaml:"expression"`
}

type ivpValidation struct {
	Expression string `yaml:"expression"`
	Message    string `yaml:"message"`
}

// ivpAttestorName is the one attestor's name, as the CEL expressions
// refer to it.
const ivpAttestorName = "seal"

// kyvernoIVP writes an ImageValidatingPolicy.
//
// Kyverno 1.19's cosign verifier for this kind
// (pkg/image/verifiers/ivpol/cosign) hands cosign the identities' issuer
// and subject and nothing else: keyless.additionalExtensions is in the CRD
// but never read, and the CEL functions return a count of verified
// signatures or, through extractPayload, the attested statement, never a
// certificate. So this kind cannot tell which repository signed, and
// preset identities are refused (pinIVP) rather than written as a subject
// check that other repositories also pass.
//
// The verifier picks the format itself: Sigstore bundles when the image
// has any as OCI referrers, else cosign's .sig/.att tags. Keyless checks
// always initialise a TUF client (the public instance's unless the policy
// names a mirror and root), and take their trust from the policy's
// trustedRoot (bundles) or roots and ctlog settings (tags).
func kyvernoIVP(p *prepared) ([]byte, error) {
	if err := p.pinIVP(); err != nil {
		return nil, err
	}
	if err := p.kyvLiterals(); err != nil {
		return nil, err
	}
	att, err := p.ivpAttestor()
	if err != nil {
		return nil, err
	}
	var images []ivpImageRef
	for _, g := range kyvImages(p.Images) {
		images = append(images, ivpImageRef{Glob: g})
	}
	// The engine filters images by matchImageReferences before the
	// validations see them, and lists every category, empty or not.
	vars := []ivpNamedCEL{{Name: "images", Expression: "images.containers + images.initContainers + images.ephemeralContainers"}}
	var vals []ivpValidation
	if !p.NoSignature {
		vals = append(vals, ivpValidation{
			Expression: fmt.Sprintf("variables.images.all(image, verifyImageSignatures(image, [attestors.%s]) > 0)", ivpAttestorName),
			Message:    "every image must be " + p.signedBy(),
		})
	}
	var atts []ivpAttestation
	for _, t := range p.Attestations {
		n := ivpName(attestationName(t))
		atts = append(atts, ivpAttestation{Name: n, InToto: ivpInToto{Type: t}})
		by := " by the same signer"
		if p.NoSignature {
			by = ", " + p.signedBy()
		}
		vals = append(vals, ivpValidation{
			Expression: fmt.Sprintf("variables.images.all(image, verifyAttestationSignatures(image, attestations.%s, [attestors.%s]) > 0)", n, ivpAttestorName),
			Message:    "every image must be attested with " + t + by,
		})
		if t != VSA {
			continue
		}
		// extractPayload returns the statement of the summary the
		// validation above verified (of the image's digest), or fails.
		pred := fmt.Sprintf("extractPayload(image, attestations.%s).predicate", n)
		for _, c := range p.vsaReq.checks() {
			vals = append(vals, ivpValidation{
				Expression: "variables.images.all(image, " + c.cel(pred) + ")",
				Message:    "every image must be vouched for by a verification summary where " + c.what,
			})
		}
	}
	doc := ivpPolicy{
		APIVersion: "policies.kyverno.io/v1",
		Kind:       "ImageValidatingPolicy",
		Metadata: metadata{Name: p.name, Annotations: map[string]string{
			"policies.kyverno.io/title":       "Images signed by Seal",
			"policies.kyverno.io/description": p.summary(),
		}},
		Spec: ivpSpec{
			Evaluation:           ivpEvaluation{Background: ivpEnabled{Enabled: false}},
			WebhookConfiguration: ivpWebhook{TimeoutSeconds: 30},
			FailurePolicy:        "Fail",
			ValidationActions:    []string{"Deny"},
			MatchConstraints: ivpMatch{ResourceRules: []ivpResourceRule{{
				APIGroups: []string{""}, APIVersions: []string{"v1"}, Operations: []string{"CREATE", "UPDATE"}, Resources: []string{"pods"},
			}}},
			MatchImageReferences: images,
			ValidationConfig:     ivpValidationConf{MutateDigest: true, VerifyDigest: true, Required: true},
			Attestors:            []ivpAttestor{att},
			Attestations:         atts,
			Variables:            vars,
			Validations:          vals,
		},
	}
	return render(p, "kyverno", doc)
}

// ivpName makes an attestation name (a DNS label) a CEL identifier, as
// the validations refer to it (attestations.NAME).
func ivpName(n string) string {
	n = strings.ReplaceAll(n, "-", "_")
	if n == "" || (n[0] >= '0' && n[0] <= '9') {
		n = "t_" + n
	}
	return n
}

// signedBy says who must have signed, for a validation's message.
func (p *prepared) signedBy() string {
	if p.key != nil {
		return "signed with the key in this policy"
	}
	return "signed by the keyless identity in this policy"
}

// pinIVP refuses preset identities: see kyvernoIVP.
func (p *prepared) pinIVP() error {
	if p.Identity == nil || p.Identity.Source == nil {
		return nil
	}
	src := p.Identity.Source
	verify := "seal verify --github-repo " + src.Repository
	if src.CI != identity.CIGitHub {
		verify = "seal verify --gitlab-project " + src.Repository
	}
	instead := "check images with `" + verify + "`"
	if src.CI == identity.CIGitHub {
		instead = "use --kind clusterpolicy --format legacy, where Kyverno's Cosign verifier checks GitHub's workflow-repository extension, or " + instead
	}
	return fmt.Errorf("kyverno's ImageValidatingPolicy cannot tell signatures of %s from another repository's: Kyverno 1.19's CEL image verifier checks only a certificate's issuer and subject (it ignores keyless.additionalExtensions, and no CEL function returns the certificate), and the subject names the workflow or CI configuration file, which other repositories can run and get a certificate with this subject; only the Source Repository URI extension names the repository that ran (the provenance the signer attests is its own claim, not evidence). Instead, %s",
		src.RepositoryURI, instead)
}

func (p *prepared) ivpAttestor() (ivpAttestor, error) {
	c := &ivpCosign{CTLog: &ivpCTLog{URL: p.rekor, InsecureIgnoreTlog: p.NoTlog}}
	if p.trust != nil && !p.NoTlog {
		c.CTLog.RekorPubKey = p.trust.rekorKey
	}
	if p.key != nil {
		c.Key = &ivpKey{Data: string(p.key.pem), HashAlgorithm: p.key.hash}
		// A key has no certificate, so no SCT.
		c.CTLog.InsecureIgnoreSCT = true
	} else {
		id := p.Identity
		c.Keyless = &ivpKeyless{Identities: []ivpIdentity{{
			Issuer: id.Issuer, Subject: id.Subject, IssuerRegExp: id.IssuerRegexp, SubjectRegExp: id.SubjectRegexp,
		}}}
		if p.NoTlog && p.trust == nil {
			return ivpAttestor{}, errors.New("kyverno's ImageValidatingPolicy needs the timestamp authority's certificate chain to accept keyless signatures without a transparency log: pass --trusted-root (the public trusted_root.json names the public timestamp authority)")
		}
	}
	if p.trust != nil {
		// trustedRoot is what bundles are checked against; signatures in
		// cosign's tags are checked against roots and the ctlog settings.
		c.TrustedRoot = &ivpValue{Value: string(p.TrustedRoot)}
		if c.Keyless != nil {
			c.Keyless.Roots = p.trust.fulcioChain
			c.CTLog.CTLogPubKey = p.trust.ctKey
			c.CTLog.InsecureIgnoreSCT = p.trust.ctKey == ""
		}
		if p.NoTlog {
			// Also makes a timestamp required for signatures in tags.
			c.CTLog.TSACertChain = p.trust.tsaChain
		}
	}
	if p.TUFMirror != "" {
		c.TUF = &ivpTUF{Mirror: p.TUFMirror, Root: ivpTUFRoot{Data: base64.StdEncoding.EncodeToString(p.TUFRoot)}}
	}
	return ivpAttestor{Name: ivpAttestorName, Cosign: c}, nil
}
