package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	sealtrust "github.com/sealsign/seal/internal/trust"
)

// Kyverno's ClusterPolicy (kyverno.io/v1), the fields Seal writes. Field
// names and tags follow Kyverno's api/kyverno/v1 types.
type kyvPolicy struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   metadata `yaml:"metadata"`
	Spec       kyvSpec  `yaml:"spec"`
}

type metadata struct {
	Name        string            `yaml:"name"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type kyvSpec struct {
	// Background scans would verify every running image again without an
	// admission request; verification belongs to admission.
	Background           bool       `yaml:"background"`
	WebhookConfiguration kyvWebhook `yaml:"webhookConfiguration"`
	Rules                []kyvRule  `yaml:"rules"`
}

type kyvWebhook struct {
	// Registry round trips for signatures outlast Kyverno's default 10s.
	TimeoutSeconds int    `yaml:"timeoutSeconds"`
	FailurePolicy  string `yaml:"failurePolicy"`
}

type kyvRule struct {
	Name         string      `yaml:"name"`
	Match        kyvMatch    `yaml:"match"`
	VerifyImages []kyvVerify `yaml:"verifyImages"`
}

type kyvMatch struct {
	Any []kyvFilter `yaml:"any"`
}

type kyvFilter struct {
	Resources kyvResources `yaml:"resources"`
}

type kyvResources struct {
	Kinds []string `yaml:"kinds"`
}

type kyvVerify struct {
	Type            string   `yaml:"type"`
	ImageReferences []string `yaml:"imageReferences"`
	FailureAction   string   `yaml:"failureAction"`
	MutateDigest    bool     `yaml:"mutateDigest"`
	VerifyDigest    bool     `yaml:"verifyDigest"`
	Required        bool     `yaml:"required"`
	// Attestors verify the image signature; without them Kyverno checks
	// the attestations alone.
	Attestors    []kyvAttestorSet `yaml:"attestors,omitempty"`
	Attestations []kyvAttestation `yaml:"attestations,omitempty"`
}

type kyvAttestorSet struct {
	// Count is how many entries must match; nil means all of them.
	Count   *int          `yaml:"count,omitempty"`
	Entries []kyvAttestor `yaml:"entries"`
}

type kyvAttestor struct {
	Keys    *kyvKeys    `yaml:"keys,omitempty"`
	Keyless *kyvKeyless `yaml:"keyless,omitempty"`
}

type kyvKeys struct {
	PublicKeys         string    `yaml:"publicKeys"`
	SignatureAlgorithm string    `yaml:"signatureAlgorithm,omitempty"`
	Rekor              *kyvRekor `yaml:"rekor,omitempty"`
	CTLog              *kyvCTLog `yaml:"ctlog,omitempty"`
}

type kyvKeyless struct {
	Subject              string            `yaml:"subject,omitempty"`
	SubjectRegExp        string            `yaml:"subjectRegExp,omitempty"`
	Issuer               string            `yaml:"issuer,omitempty"`
	IssuerRegExp         string            `yaml:"issuerRegExp,omitempty"`
	AdditionalExtensions map[string]string `yaml:"additionalExtensions,omitempty"`
	Roots                string            `yaml:"roots,omitempty"`
	Rekor                *kyvRekor         `yaml:"rekor,omitempty"`
	CTLog                *kyvCTLog         `yaml:"ctlog,omitempty"`
}

type kyvRekor struct {
	URL        string `yaml:"url"`
	PubKey     string `yaml:"pubkey,omitempty"`
	IgnoreTlog bool   `yaml:"ignoreTlog,omitempty"`
}

type kyvCTLog struct {
	IgnoreSCT    bool   `yaml:"ignoreSCT,omitempty"`
	PubKey       string `yaml:"pubkey,omitempty"`
	TSACertChain string `yaml:"tsaCertChain,omitempty"`
}

type kyvAttestation struct {
	Name       string           `yaml:"name"`
	Type       string           `yaml:"type"`
	Attestors  []kyvAttestorSet `yaml:"attestors"`
	Conditions []kyvAnyAll      `yaml:"conditions,omitempty"`
}

type kyvAnyAll struct {
	All []kyvCondition `yaml:"all"`
}

type kyvCondition struct {
	Key      string `yaml:"key"`
	Operator string `yaml:"operator"`
	// Value is a string, a bool or a list of strings.
	Value   any    `yaml:"value"`
	Message string `yaml:"message"`
}

// kyverno writes a ClusterPolicy with one verifyImages rule.
//
// SigstoreBundle (bundle format) is verified by Kyverno with sigstore-go
// against the trusted root of its own TUF settings (its --tufRoot and
// --tufMirror flags): it ignores an attestor's roots and certificate
// extensions, and without ignoreSCT it requires an observer timestamp (a
// transparency-log entry or an RFC 3161 timestamp). Cosign (legacy format)
// is verified by cosign's library, which takes the Fulcio roots, the
// timestamp authority's chain and GitHub's workflow-repository and -ref
// certificate extensions from the policy. Those extensions are the only
// way Kyverno can check which repository signed, so pinSource refuses
// GitLab presets, and GitHub presets in the bundle format.
func kyverno(p *prepared) ([]byte, error) {
	bundle := p.Format == oci.Bundle
	// A key without a log needs no Sigstore root at all; anything else in
	// SigstoreBundle mode is checked against Kyverno's TUF root.
	if bundle && p.trust != nil && (p.key == nil || !p.NoTlog) {
		return nil, errors.New("kyverno's SigstoreBundle verifier trusts only the root of its own TUF settings (--tufRoot/--tufMirror), not one in a policy: configure Kyverno's TUF for this instance and drop --trusted-root, or use --format legacy")
	}
	if err := p.pinSource(Kyverno); err != nil {
		return nil, err
	}
	if err := p.needProvenance(Kyverno); err != nil {
		return nil, err
	}
	if err := p.pinExtensions(Kyverno); err != nil {
		return nil, err
	}
	if err := p.kyvLiterals(); err != nil {
		return nil, err
	}
	if p.vsaReq != nil {
		if err := kyvGlob("verifier id", p.vsaReq.Verifier); err != nil {
			return nil, err
		}
	}
	attestor, err := p.kyvAttestor(bundle)
	if err != nil {
		return nil, err
	}
	sets := []kyvAttestorSet{p.kyvTriggers(attestor)}
	v := kyvVerify{
		Type:            "Cosign",
		ImageReferences: kyvImages(p.Images),
		FailureAction:   "Enforce",
		MutateDigest:    true,
		VerifyDigest:    true,
		Required:        true,
		Attestors:       sets,
	}
	if p.NoSignature {
		v.Attestors = nil
	}
	if bundle {
		v.Type = "SigstoreBundle"
	}
	checks := p.provenanceChecks()
	for _, t := range p.Attestations {
		a := kyvAttestation{Name: attestationName(t), Type: t, Attestors: sets}
		if t == SLSAProvenanceV1 && len(checks) > 0 {
			var all []kyvCondition
			for _, c := range checks {
				// Kyverno puts the predicate at the root of the JMESPath
				// context, and Equals matches strings as globs.
				val := c.value
				if c.pat != nil {
					val = c.pat.Glob()
				}
				all = append(all, kyvCondition{
					Key:      "{{ " + strings.Join(c.path, ".") + " }}",
					Operator: "Equals",
					Value:    val,
					Message:  "the provenance must say: " + c.what,
				})
			}
			a.Conditions = []kyvAnyAll{{All: all}}
		}
		if t == VSA {
			var all []kyvCondition
			for _, c := range p.vsaReq.checks() {
				all = append(all, c.kyverno)
			}
			a.Conditions = []kyvAnyAll{{All: all}}
		}
		v.Attestations = append(v.Attestations, a)
	}
	doc := kyvPolicy{
		APIVersion: "kyverno.io/v1",
		Kind:       "ClusterPolicy",
		Metadata: metadata{Name: p.name, Annotations: map[string]string{
			"policies.kyverno.io/title":       "Images signed by Seal",
			"policies.kyverno.io/description": p.summary(),
		}},
		Spec: kyvSpec{
			Background:           false,
			WebhookConfiguration: kyvWebhook{TimeoutSeconds: 30, FailurePolicy: "Fail"},
			Rules: []kyvRule{{
				Name:         "verify-seal-signatures",
				Match:        kyvMatch{Any: []kyvFilter{{Resources: kyvResources{Kinds: []string{"Pod"}}}}},
				VerifyImages: []kyvVerify{v},
			}},
		},
	}
	return render(p, "kyverno", doc)
}

// kyvLiterals refuses user strings Kyverno would not take literally:
// before it verifies images it substitutes {{...}} variables and $(...)
// references throughout the rule (attestors included), so a subject
// holding {{ request.object.metadata.annotations.x }} would let whoever
// writes the Pod choose the signer.
func (p *prepared) kyvLiterals() error {
	check := func(what, s string) error {
		if strings.Contains(s, "{{") || strings.Contains(s, "$(") {
			return fmt.Errorf("%s %q: kyverno reads {{...}} and $(...) in a policy as variables, so Seal does not write them", what, s)
		}
		return nil
	}
	var fields [][2]string
	if id := p.Identity; id != nil {
		fields = append(fields, [2]string{"subject", id.Subject}, [2]string{"subject regexp", id.SubjectRegexp},
			[2]string{"issuer", id.Issuer}, [2]string{"issuer regexp", id.IssuerRegexp})
	}
	fields = append(fields, [2]string{"transparency log URL", p.rekor})
	for _, a := range p.Attestations {
		fields = append(fields, [2]string{"attestation type", a})
	}
	if p.vsaReq != nil {
		fields = append(fields, [2]string{"verifier id", p.vsaReq.Verifier})
	}
	for _, g := range p.Images {
		fields = append(fields, [2]string{"image glob", g})
	}
	for _, f := range fields {
		if err := check(f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

func (p *prepared) kyvAttestor(bundle bool) (kyvAttestor, error) {
	rekor := &kyvRekor{URL: p.rekor}
	if p.NoTlog {
		// Kyverno wants a URL even when it is told to ignore the log.
		rekor = &kyvRekor{URL: sealtrust.PublicRekor, IgnoreTlog: true}
	} else if p.trust != nil {
		rekor.PubKey = p.trust.rekorKey
	}
	if p.key != nil {
		// A key has no certificate, so no SCT to check; cosign would still
		// fetch CT log keys from the public TUF root unless told not to.
		return kyvAttestor{Keys: &kyvKeys{
			PublicKeys:         string(p.key.pem),
			SignatureAlgorithm: p.key.hash,
			Rekor:              rekor,
			CTLog:              &kyvCTLog{IgnoreSCT: true},
		}}, nil
	}
	id := p.Identity
	k := &kyvKeyless{
		Subject: id.Subject, SubjectRegExp: id.SubjectRegexp,
		Issuer: id.Issuer, IssuerRegExp: id.IssuerRegexp,
		Rekor: rekor,
	}
	if bundle {
		// Keep SCT checks on: for SigstoreBundle, Kyverno's ignoreSCT drops
		// the observer timestamp requirement, not an SCT check.
		return kyvAttestor{Keyless: k}, nil
	}
	if src := id.Source; src != nil && src.CI == identity.CIGitHub {
		// cosign reads only the deprecated GitHub workflow extensions;
		// Fulcio still writes them for GitHub Actions tokens.
		k.AdditionalExtensions = map[string]string{"githubWorkflowRepository": src.Repository}
		if src.Ref != "" {
			k.AdditionalExtensions["githubWorkflowRef"] = src.RefPattern().Glob()
		}
	}
	if p.trust == nil {
		if p.NoTlog {
			return kyvAttestor{}, errors.New("kyverno's Cosign verifier needs the timestamp authority's certificate chain to accept keyless signatures without a transparency log: pass --trusted-root (the public trusted_root.json names the public timestamp authority)")
		}
		return kyvAttestor{Keyless: k}, nil
	}
	k.Roots = p.trust.fulcioChain
	ct := &kyvCTLog{PubKey: p.trust.ctKey, IgnoreSCT: p.trust.ctKey == ""}
	if p.NoTlog {
		ct.TSACertChain = p.trust.tsaChain
	}
	k.CTLog = ct
	return kyvAttestor{Keyless: k}, nil
}

// kyvTriggers is the attestor set that refuses the identity's triggers.
// Kyverno matches an extension only against a glob of "*" and "?", which
// cannot say "anything but pull_request_target", so the set has one entry
// per glob of kyvTriggerGlobs, any one of which must match (count 1).
func (p *prepared) kyvTriggers(a kyvAttestor) kyvAttestorSet {
	if a.Keyless == nil || len(p.Identity.RefuseTriggers) == 0 {
		return kyvAttestorSet{Entries: []kyvAttestor{a}}
	}
	var set kyvAttestorSet
	for _, g := range kyvTriggerGlobs(p.Identity.RefuseTriggers) {
		k := *a.Keyless
		k.AdditionalExtensions = map[string]string{"githubWorkflowTrigger": g}
		for n, v := range a.Keyless.AdditionalExtensions {
			k.AdditionalExtensions[n] = v
		}
		set.Entries = append(set.Entries, kyvAttestor{Keyless: &k})
	}
	one := 1
	set.Count = &one
	return set
}

// kyvTriggerGlobs are globs that match every event GitHub documents
// (identity.GitHubEvents) but the refused ones, and no refused one: for
// each event, "*" and its shortest ending that no refused event ends
// with ("*h" for push), or the event itself where every ending is a
// refused one's, without the globs a shorter one covers. An event GitHub
// adds later passes when its name ends as an accepted one's does, and is
// refused otherwise, where `seal verify` accepts it: fewer entries than
// one per event keep the policy within Kubernetes' size limits (each
// entry repeats the trust material).
func kyvTriggerGlobs(refused []string) []string {
	var suffixes []string
	for _, e := range identity.GitHubEvents() {
		if slices.Contains(refused, e) {
			continue
		}
		suf := e
		for k := 1; k <= len(e); k++ {
			if !slices.ContainsFunc(refused, func(r string) bool { return strings.HasSuffix(r, e[len(e)-k:]) }) {
				suf = "*" + e[len(e)-k:]
				break
			}
		}
		suffixes = append(suffixes, suf)
	}
	var out []string
	for _, s := range suffixes {
		covered := slices.ContainsFunc(suffixes, func(o string) bool {
			return o != s && strings.HasPrefix(o, "*") && strings.HasSuffix(strings.TrimPrefix(s, "*"), strings.TrimPrefix(o, "*"))
		})
		if !covered && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// kyvImages turns policy-controller globs into Kyverno's, whose "*" also
// crosses "/": the Kyverno policy may govern more images, never fewer.
func kyvImages(globs []string) []string {
	out := make([]string, len(globs))
	for i, g := range globs {
		out[i] = strings.ReplaceAll(g, "**", "*")
	}
	return out
}

// attestationName is a short, stable name for a predicate type.
func attestationName(t string) string {
	for n, u := range map[string]string{"slsa-provenance": SLSAProvenanceV1, "spdx": SPDX, "cyclonedx": CycloneDX, "vuln": Vuln, "signature": CosignSign, "vsa": VSA} {
		if u == t {
			return n
		}
	}
	n := dnsLabel.ReplaceAllString(strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(t, "https://"), "http://")), "-")
	n = strings.Trim(n, "-")
	if len(n) > 63 {
		n = strings.Trim(n[len(n)-63:], "-")
	}
	return n
}
