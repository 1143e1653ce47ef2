package policy

import (
	"errors"
	"fmt"
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
