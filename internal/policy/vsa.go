package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sealsign/seal/internal/verify"
)

// vsaRequirement is what a Verification Summary must say, as `seal verify
// --attestation vsa` checks it (verify.VSARequirement), written here for
// each engine.
type vsaRequirement struct{ verify.VSARequirement }

// prepareVSA validates the VSA checks and the signature requirement: a
// policy without the image signature admits on a Verification Summary
// alone.
func (p *prepared) prepareVSA() error {
	c := p.VSA
	if !p.vsa {
		if c != (verify.VSACheck{}) {
			return errors.New("the verification summary checks (verifier, level, policy digest) need --attestation vsa")
		}
		if p.NoSignature {
			return errors.New("--no-signature admits an image on a SLSA Verification Summary alone: add --attestation vsa")
		}
		return nil
	}
	if p.NoSignature && len(p.Attestations) != 1 {
		return fmt.Errorf("--no-signature admits an image on its SLSA Verification Summary alone: drop the other attestations (%s), which the summary's verifier checked", strings.Join(slices.DeleteFunc(slices.Clone(p.Attestations), func(a string) bool { return a == VSA }), ", "))
	}
	r, err := c.Requirement()
	if err != nil {
		return err
	}
	p.vsaReq = &vsaRequirement{*r}
	return nil
}

// vsaCheck is one requirement on the summary's predicate, written for
// each engine.
type vsaCheck struct {
	what string // for comments and messages
	// kyverno is a ClusterPolicy condition, over the predicate.
	kyverno kyvCondition
	// cel is an expression over the predicate that the CEL expression
	// pred yields (an ImageValidatingPolicy's extractPayload(...).predicate).
	cel func(pred string) string
	// rego is the rule body's lines over input.predicate, and the helper
	// rules they name.
	rego    []string
	helpers string
}

// vsaChecks are the requirements on a summary's predicate, the ones
// `seal verify --attestation vsa` makes with the same flags: PASSED, no
// FAILED level, the verifier, and the level and policy asked for. The summary's subject
// is the image's digest: each engine checks it (TestVSAPolicies replays a
// summary of another image), so resourceUri is not compared.
func (r *vsaRequirement) checks() []vsaCheck {
	q := regoString // JSON strings are CEL and Rego strings too
	cs := []vsaCheck{
		{
			what:    "verificationResult is " + verify.ResultPassed,
			kyverno: kyvCondition{Key: "{{ verificationResult }}", Operator: "Equals", Value: verify.ResultPassed},
			cel:     func(p string) string { return p + ".verificationResult == " + q(verify.ResultPassed) },
			rego:    []string{"input.predicate.verificationResult == " + regoString(verify.ResultPassed)},
		},
		{
			what:    "verifier.id is " + r.Verifier,
			kyverno: kyvCondition{Key: "{{ verifier.id }}", Operator: "Equals", Value: r.Verifier},
			cel:     func(p string) string { return p + ".verifier.id == " + q(r.Verifier) },
			rego:    []string{"input.predicate.verifier.id == " + regoString(r.Verifier)},
		},
		{
			what:    "verifiedLevels is not empty and holds no " + verify.LevelFailed,
			kyverno: kyvCondition{Key: "{{ length(verifiedLevels) > `0` && !contains(verifiedLevels, 'FAILED') }}", Operator: "Equals", Value: true},
			cel: func(p string) string {
				return "size(" + p + ".verifiedLevels) > 0 && !(" + q(verify.LevelFailed) + " in " + p + ".verifiedLevels)"
			},
			rego:    []string{"count(input.predicate.verifiedLevels) > 0", "not failedLevel"},
			helpers: "failedLevel {\n  input.predicate.verifiedLevels[_] == " + regoString(verify.LevelFailed) + "\n}\n",
		},
	}
	if r.MinLevel != "" {
		var quoted []string
		for _, l := range r.Levels {
			quoted = append(quoted, q(l))
		}
		list := "[" + strings.Join(quoted, ", ") + "]"
		cs = append(cs, vsaCheck{
			what:    "verifiedLevels holds " + r.MinLevel + " or higher (" + strings.Join(r.Levels, ", ") + ")",
			kyverno: kyvCondition{Key: "{{ verifiedLevels }}", Operator: "AnyIn", Value: r.Levels},
			cel:     func(p string) string { return p + ".verifiedLevels.exists(l, l in " + list + ")" },
			rego:    []string{"minimumLevel"},
			helpers: "minimumLevel {\n  input.predicate.verifiedLevels[_] == " + list + "[_]\n}\n",
		})
	}
	if r.Digest != "" {
		cs = append(cs, vsaCheck{
			what:    "policy.digest.sha256 is " + r.Digest,
			kyverno: kyvCondition{Key: "{{ policy.digest.sha256 }}", Operator: "Equals", Value: r.Digest},
			cel:     func(p string) string { return p + ".policy.digest.sha256 == " + q(r.Digest) },
			rego:    []string{"input.predicate.policy.digest.sha256 == " + regoString(r.Digest)},
		})
	}
	for i := range cs {
		cs[i].kyverno.Message = "the verification summary must say: " + cs[i].what
	}
	return cs
}

// vsaRego is the checks as a policy-controller Rego policy over the
// statement.
func (r *vsaRequirement) rego() string {
	var b, helpers strings.Builder
	b.WriteString("package sigstore\n\ndefault isCompliant = false\n\nisCompliant {\n")
	fmt.Fprintf(&b, "  input.predicateType == %s\n", regoString(VSA))
	for _, c := range r.checks() {
		for _, l := range c.rego {
			b.WriteString("  " + l + "\n")
		}
		if c.helpers != "" {
			helpers.WriteString("\n" + c.helpers)
		}
	}
	b.WriteString("}\n")
	return b.String() + helpers.String()
}

// kyvGlob refuses a value that Kyverno's Equals would read as a glob.
func kyvGlob(what, s string) error {
	if strings.ContainsAny(s, "*?") {
		return fmt.Errorf("%s %q: kyverno compares it as a glob, where * and ? match other text, so Seal does not write it", what, s)
	}
	return nil
}

// vsaLimits say, in the policy's header, what the engine does not check
// or checks differently.
func (p *prepared) vsaLimits(engine string) []string {
	l := []string{"Its subject must be the image's digest, which the engine checks; its",
		"resourceUri is not compared (`seal attest --vsa` attests a summary only",
		"about the digest that resourceUri names)."}
	if p.vsaReq.MinLevel != "" {
		l = append(l, "Levels above "+verify.LevelBuild3+", which SLSA v1.0 and v1.1 do not define,",
			"do not count.")
	}
	switch {
	case p.ivp():
		l = append(l, "Of several summaries the signer attested for the image, Kyverno checks",
			"the last one it verified.")
	case engine == string(Kyverno):
		l = append(l, "Every summary the signer attested for the image must pass these checks.")
	default:
		l = append(l, "One summary from the signer that passes these checks is enough.")
	}
	return l
}
