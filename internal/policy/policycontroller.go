package policy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	sealtrust "github.com/sealsign/seal/internal/trust"
)

// policy-controller's ClusterImagePolicy (policy.sigstore.dev/v1beta1) and
// TrustRoot (policy.sigstore.dev/v1alpha1), the fields Seal writes. Tags
// follow policy-controller's pkg/apis/policy types; []byte fields are
// base64 in YAML, as Kubernetes encodes them.
type cipPolicy struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   metadata `yaml:"metadata"`
	Spec       cipSpec  `yaml:"spec"`
}

type cipSpec struct {
	Images      []cipImage     `yaml:"images"`
	Authorities []cipAuthority `yaml:"authorities"`
	Policy      *cipRego       `yaml:"policy,omitempty"`
	Mode        string         `yaml:"mode"`
}

type cipImage struct {
	Glob string `yaml:"glob"`
}

type cipAuthority struct {
	Name             string           `yaml:"name"`
	Key              *cipKey          `yaml:"key,omitempty"`
	Keyless          *cipKeyless      `yaml:"keyless,omitempty"`
	CTLog            *cipTLog         `yaml:"ctlog,omitempty"`
	RFC3161Timestamp *cipTimestamp    `yaml:"rfc3161timestamp,omitempty"`
	SignatureFormat  string           `yaml:"signatureFormat,omitempty"`
	Attestations     []cipAttestation `yaml:"attestations,omitempty"`
}

type cipKey struct {
	Data          string `yaml:"data"`
	HashAlgorithm string `yaml:"hashAlgorithm,omitempty"`
}

type cipKeyless struct {
	URL               string        `yaml:"url"`
	TrustRootRef      string        `yaml:"trustRootRef,omitempty"`
	InsecureIgnoreSCT bool          `yaml:"insecureIgnoreSCT,omitempty"`
	Identities        []cipIdentity `yaml:"identities"`
}

type cipIdentity struct {
	Issuer        string `yaml:"issuer,omitempty"`
	IssuerRegExp  string `yaml:"issuerRegExp,omitempty"`
	Subject       string `yaml:"subject,omitempty"`
	SubjectRegExp string `yaml:"subjectRegExp,omitempty"`
}

type cipTLog struct {
	URL          string `yaml:"url,omitempty"`
	TrustRootRef string `yaml:"trustRootRef,omitempty"`
}

// cipTimestamp is written as {} for the public instance: its presence is
// what makes policy-controller require signed timestamps.
type cipTimestamp struct {
	TrustRootRef string `yaml:"trustRootRef,omitempty"`
}

type cipAttestation struct {
	Name          string   `yaml:"name"`
	PredicateType string   `yaml:"predicateType"`
	Policy        *cipRego `yaml:"policy,omitempty"`
}

type cipRego struct {
	Type string `yaml:"type"`
	Data string `yaml:"data"`
}

type trustRoot struct {
	APIVersion string        `yaml:"apiVersion"`
	Kind       string        `yaml:"kind"`
	Metadata   metadata      `yaml:"metadata"`
	Spec       trustRootSpec `yaml:"spec"`
}

type trustRootSpec struct {
	SigstoreKeys sigstoreKeys `yaml:"sigstoreKeys"`
}

type sigstoreKeys struct {
	CertificateAuthorities []trCA   `yaml:"certificateAuthorities"`
	TLogs                  []trTLog `yaml:"tLogs,omitempty"`
	CTLogs                 []trTLog `yaml:"ctLogs,omitempty"`
	TimestampAuthorities   []trCA   `yaml:"timestampAuthorities,omitempty"`
}

type trCA struct {
	Subject   trDN        `yaml:"subject"`
	URI       string      `yaml:"uri"`
	CertChain base64Bytes `yaml:"certChain"`
}

type trDN struct {
	Organization string `yaml:"organization"`
	CommonName   string `yaml:"commonName"`
}

type trTLog struct {
	BaseURL       string      `yaml:"baseURL"`
	HashAlgorithm string      `yaml:"hashAlgorithm"`
	PublicKey     base64Bytes `yaml:"publicKey"`
}

// Authority names, which a CIP-level policy refers to.
const (
	authSignature    = "signature"
	authAttestations = "attestations"
)

// policyController writes a ClusterImagePolicy, after its TrustRoot for a
// private instance.
//
// policy-controller v0.13.1 (cosign v2.5 inside) cannot verify an image
// signature in bundle format ("not yet implemented"), but it verifies
// attestations in bundles; Seal's bundle-format signature is a DSSE
// statement of type CosignSign, so the policy requires it as an
// attestation. It verifies bundles only for keyless authorities, and of a
// bundle's certificate it checks only issuer and subject; in legacy format
// a CIP-level Rego policy sees each signature's GitHub workflow repository
// and ref extensions, the only way it can check which repository signed
// (pinSource refuses the presets it cannot pin). Authorities are
// alternatives to policy-controller, so when the signature and the
// attestations need two authorities, the CIP-level policy requires both
// to have matched. v0.15.1 (cosign v3.0 inside) behaves the same in
// every case Seal's tests run (TestPolicyControllerTester,
// TestEngineAttacks, TestForeignCaller, TestEnginesRequireRekorV1).
func policyController(p *prepared) ([]byte, error) {
	bundle := p.Format == oci.Bundle
	if bundle && p.key != nil {
		return nil, errors.New("policy-controller (v0.13.1, v0.15.1) verifies Sigstore bundles only for keyless signatures: use --format legacy with --key (Seal writes both formats by default)")
	}
	// Its TrustRoot conversion stores a log's ID as the hex text instead of
	// the bytes (pkg/apis/config/sigstore_keys.go,
	// ConvertTransparencyLogInstance), so sigstore-go, which checks
	// bundles, finds no log for any entry and admits nothing
	// (internal/policy/rekorv1_test.go shows it); the legacy path keys logs
	// by that text and works.
	if bundle && p.trust != nil && !p.NoTlog {
		return nil, errors.New("policy-controller (v0.13.1, v0.15.1) cannot check the transparency-log entries of bundles against a TrustRoot of its own (it misreads the log's ID and refuses every image): use --format legacy (Seal writes both formats by default), or --no-tlog to rely on the timestamp authority")
	}
	return policyControllerDocs(p)
}

// policyControllerDocs writes the policy policyController has checked p for.
func policyControllerDocs(p *prepared) ([]byte, error) {
	bundle := p.Format == oci.Bundle
	if err := p.pinSource(PolicyController); err != nil {
		return nil, err
	}
	if err := p.needProvenance(PolicyController); err != nil {
		return nil, err
	}
	if err := p.pinExtensions(PolicyController); err != nil {
		return nil, err
	}
	var trName string
	var docs []any
	if p.trust != nil {
		trName = p.name + "-trust-root"
		docs = append(docs, p.trustRoot(trName))
	}
	base, err := p.cipAuthority(trName)
	if err != nil {
		return nil, err
	}
	checks := p.provenanceChecks()
	var atts []cipAttestation
	for _, t := range p.Attestations {
		a := cipAttestation{Name: attestationName(t), PredicateType: t}
		if t == SLSAProvenanceV1 && len(checks) > 0 {
			a.Policy = &cipRego{Type: "rego", Data: regoPolicy(t, checks)}
		}
		if t == VSA {
			a.Policy = &cipRego{Type: "rego", Data: p.vsaReq.rego()}
		}
		atts = append(atts, a)
	}
	spec := cipSpec{Mode: "enforce"}
	for _, g := range p.Images {
		spec.Images = append(spec.Images, cipImage{Glob: g})
	}
	if bundle {
		a := base
		a.Name = authSignature
		a.SignatureFormat = "bundle"
		a.Attestations = atts
		if !p.NoSignature {
			a.Attestations = append([]cipAttestation{{Name: attestationName(CosignSign), PredicateType: CosignSign}}, atts...)
		}
		spec.Authorities = []cipAuthority{a}
	} else {
		if !p.NoSignature {
			sig := base
			sig.Name = authSignature
			spec.Authorities = []cipAuthority{sig}
		}
		if len(atts) > 0 {
			a := base
			a.Name = authAttestations
			a.Attestations = atts
			spec.Authorities = append(spec.Authorities, a)
		}
		if rego := p.cipRego(atts); rego != "" {
			spec.Policy = &cipRego{Type: "rego", Data: rego}
		}
	}
	docs = append(docs, cipPolicy{
		APIVersion: "policy.sigstore.dev/v1beta1",
		Kind:       "ClusterImagePolicy",
		Metadata:   metadata{Name: p.name},
		Spec:       spec,
	})
	return render(p, "policy-controller", docs...)
}

func (p *prepared) cipAuthority(trName string) (cipAuthority, error) {
	var a cipAuthority
	if p.key != nil {
		a.Key = &cipKey{Data: string(p.key.pem), HashAlgorithm: p.key.hash}
		// Without ctlog a key authority never consults a log.
		if !p.NoTlog {
			a.CTLog = &cipTLog{URL: p.rekor, TrustRootRef: trName}
		}
		return a, nil
	}
	id := p.Identity
	k := &cipKeyless{
		URL:        sealtrust.PublicFulcio,
		Identities: []cipIdentity{{Issuer: id.Issuer, IssuerRegExp: id.IssuerRegexp, Subject: id.Subject, SubjectRegExp: id.SubjectRegexp}},
	}
	a.Keyless = k
	if p.trust != nil {
		if p.trust.fulcioURL == "" {
			return a, errors.New("the trusted root names no Fulcio certificate authority, so keyless signatures cannot be trusted")
		}
		k.URL, k.TrustRootRef = p.trust.fulcioURL, trName
		// No CT log in the root: its certificates carry no SCTs.
		k.InsecureIgnoreSCT = len(p.trust.ctlogs) == 0
	}
	if p.NoTlog {
		// A Fulcio certificate lives ten minutes; the signing time must
		// come from the timestamp authority. This also turns the log off.
		a.RFC3161Timestamp = &cipTimestamp{TrustRootRef: trName}
		if trName == "" && p.Format == oci.Legacy {
			return a, errors.New("policy-controller checks legacy-format timestamps only against a TrustRoot: pass --trusted-root (the public trusted_root.json names the public timestamp authority)")
		}
	} else if p.trust != nil {
		// With a TrustRoot and no ctlog, policy-controller would skip the
		// log in the legacy format.
		a.CTLog = &cipTLog{URL: p.rekor, TrustRootRef: trName}
	}
	return a, nil
}

// cipRego is the CIP-level policy for the legacy format: both authorities
// must have matched, and for a GitHub preset every matched signature's
// certificate must name the repository (and ref) in Fulcio's GitHub
// workflow extensions, which the authorities cannot check themselves, and
// no refused trigger in the workflow-trigger extension.
func (p *prepared) cipRego(atts []cipAttestation) string {
	var rules []string
	if !p.NoSignature {
		rules = append(rules, fmt.Sprintf("count(input.authorityMatches[%s].signatures) > 0", regoString(authSignature)))
	}
	for _, a := range atts {
		rules = append(rules, fmt.Sprintf("count(input.authorityMatches[%s].attestations[%s]) > 0", regoString(authAttestations), regoString(a.Name)))
	}
	var src *identity.Source
	if p.Identity != nil {
		src = p.Identity.Source
	}
	github := src != nil && src.CI == identity.CIGitHub
	if (len(atts) == 0 || p.NoSignature && len(atts) == 1) && !github {
		// One authority: its match is the policy.
		return ""
	}
	var b strings.Builder
	b.WriteString("package sigstore\n\ndefault isCompliant = false\n\n")
	b.WriteString("isCompliant {\n")
	for _, r := range rules {
		b.WriteString("  " + r + "\n")
	}
	if github {
		b.WriteString("  count(foreign) == 0\n")
	}
	b.WriteString("}\n")
	if github {
		// Signatures and attestations alike carry the certificate's
		// extensions; one from elsewhere is a reason to refuse.
		b.WriteString("\nmatched[m] {\n  m := input.authorityMatches[_].signatures[_]\n}\n")
		b.WriteString("\nmatched[m] {\n  m := input.authorityMatches[_].attestations[_][_]\n}\n")
		// "not x == y" rather than "x != y": an absent extension must
		// count as foreign, and != over an undefined value is undefined.
		fmt.Fprintf(&b, "\nforeign[m] {\n  matched[m]\n  not m.githubWorkflowRepo == %s\n}\n", regoString(src.Repository))
		if src.Ref != "" {
			fmt.Fprintf(&b, "\nforeign[m] {\n  matched[m]\n  not regex.match(%s, m.githubWorkflowRef)\n}\n", regoString(src.RefPattern().Regexp()))
		}
		// A refused trigger's run is foreign too: the same repository's
		// token, acting for code or events from outside it. An absent
		// extension is no refused trigger, as for seal verify.
		for _, t := range p.Identity.RefuseTriggers {
			fmt.Fprintf(&b, "\nforeign[m] {\n  matched[m]\n  m.githubWorkflowTrigger == %s\n}\n", regoString(t))
		}
	}
	return b.String()
}

func (p *prepared) trustRoot(name string) trustRoot {
	t := p.trust
	var keys sigstoreKeys
	for _, c := range t.cas {
		keys.CertificateAuthorities = append(keys.CertificateAuthorities, trCA{Subject: trDN{c.org, c.cn}, URI: c.uri, CertChain: c.chain})
	}
	for _, c := range t.tsas {
		keys.TimestampAuthorities = append(keys.TimestampAuthorities, trCA{Subject: trDN{c.org, c.cn}, URI: c.uri, CertChain: c.chain})
	}
	conv := func(ls []tlog) []trTLog {
		var out []trTLog
		for _, l := range ls {
			out = append(out, trTLog{BaseURL: l.url, HashAlgorithm: l.hash, PublicKey: l.key})
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].BaseURL < out[j].BaseURL })
		return out
	}
	keys.TLogs = conv(t.tlogs)
	keys.CTLogs = conv(t.ctlogs)
	return trustRoot{
		APIVersion: "policy.sigstore.dev/v1alpha1",
		Kind:       "TrustRoot",
		Metadata:   metadata{Name: name},
		Spec:       trustRootSpec{SigstoreKeys: keys},
	}
}

// base64Bytes is a []byte field as Kubernetes encodes it: one base64
// string (yaml.v3 would write a list of numbers).
type base64Bytes []byte

// MarshalYAML implements yaml.Marshaler.
func (b base64Bytes) MarshalYAML() (any, error) { return base64.StdEncoding.EncodeToString(b), nil }
