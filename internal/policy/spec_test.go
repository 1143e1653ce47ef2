package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/verify"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

func TestGenerateRefuses(t *testing.T) {
	gh := func(t *testing.T) *identity.Identity { return mustGitHub(t, "acme/app", "", "", false) }
	for _, tc := range []struct {
		name   string
		engine Engine
		spec   func(t *testing.T) Spec
		want   string
	}{
		{"no images", Kyverno, func(t *testing.T) Spec { return Spec{Identity: gh(t), Format: oci.Bundle} }, "no images"},
		{"bad glob", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a b"}, Format: oci.Bundle}
		}, "image glob"},
		{"no format", Kyverno, func(t *testing.T) Spec { return Spec{Identity: gh(t), Images: []string{"a/**"}} }, "format"},
		{"no signer", Kyverno, func(t *testing.T) Spec { return Spec{Images: []string{"a/**"}, Format: oci.Bundle} }, "no signer"},
		{"two signers", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), PublicKey: readFile(t, "cosign.pub"), Images: []string{"a/**"}, Format: oci.Bundle}
		}, "not both"},
		{"bad key", Kyverno, func(t *testing.T) Spec {
			return Spec{PublicKey: []byte("not a key"), Images: []string{"a/**"}, Format: oci.Legacy}
		}, "public key"},
		{"signature as attestation", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Bundle, Attestations: []string{CosignSign}}
		}, "image signature"},
		{"unknown attestation", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Bundle, Attestations: []string{"sbom"}}
		}, "unknown predicate type"},
		{"log and no log", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Bundle, NoTlog: true, RekorURL: "https://rekor.example.com"}
		}, "contradict"},
		{"bad name", PolicyController, func(t *testing.T) Spec {
			return Spec{Name: "Seal_Policy", Identity: gh(t), Images: []string{"a/**"}, Format: oci.Bundle}
		}, "policy name"},
		{"raw identity with extensions", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: &identity.Identity{Subject: "s", Issuer: "i", Extensions: certificate.Extensions{RunnerEnvironment: "github-hosted"}}, Images: []string{"a/**"}, Format: oci.Bundle}
		}, "preset"},
		{"bad trusted root", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Bundle, TrustedRoot: []byte("{}")}
		}, "trusted root"},
		{"github preset, kyverno bundle", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Bundle, Attestations: []string{"slsaprovenance"}}
		}, "kyverno cannot tell signatures of https://github.com/acme/app from another repository's in the bundle format"},
		{"github preset, policy-controller bundle", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Bundle, Attestations: []string{"slsaprovenance"}}
		}, "use --format legacy"},
		{"gitlab preset, kyverno legacy", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: mustGitLab(t, "acme/app", "", "", false), Images: []string{"a/**"}, Format: oci.Legacy, Attestations: []string{"slsaprovenance"}}
		}, "seal verify --gitlab-project acme/app"},
		{"gitlab preset, policy-controller legacy", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: mustGitLab(t, "acme/app", "", "", false), Images: []string{"a/**"}, Format: oci.Legacy, Attestations: []string{"slsaprovenance"}}
		}, "policy-controller cannot tell signatures of https://gitlab.com/acme/app"},
		{"GHES preset names the host to seal verify", PolicyController, func(t *testing.T) Spec {
			id, err := identity.FromGitHubHost("github.example.com", "acme/app", "", "", false)
			if err != nil {
				t.Fatal(err)
			}
			return Spec{Identity: &id, Images: []string{"a/**"}, Format: oci.Bundle}
		}, "seal verify --github-repo acme/app --github-host github.example.com"},
		{"newline in subject", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: &identity.Identity{Subject: "s\n---\nkind: x", Issuer: "i"}, Images: []string{"a/**"}, Format: oci.Legacy}
		}, "control character U+000A"},
		{"newline in log URL", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, RekorURL: "https://rekor.example.com\n---"}
		}, "control character"},
		{"log URL not https", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, RekorURL: "rekor.example.com"}
		}, "https:// URL"},
		{"control character in attestation type", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, Attestations: []string{"https://example.com/x\u2029"}}
		}, "not printable"},
		{"kyverno variable in subject", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: &identity.Identity{Subject: "{{ request.object.metadata.annotations.signer }}", Issuer: "i"}, Images: []string{"a/**"}, Format: oci.Legacy}
		}, "as variables"},
		{"kyverno reference in subject regexp", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: &identity.Identity{SubjectRegexp: "^a$(b)?", Issuer: "i"}, Images: []string{"a/**"}, Format: oci.Bundle}
		}, "as variables"},
		{"legacy keyless without log needs a TSA chain (kyverno)", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, NoTlog: true}
		}, "--trusted-root"},
		{"legacy keyless without log needs a TSA chain (policy-controller)", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, NoTlog: true}
		}, "--trusted-root"},
		// Admission on a Verification Summary alone.
		{"no signature without a summary", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, NoSignature: true, Attestations: []string{"slsaprovenance"}}
		}, "add --attestation vsa"},
		{"no signature, summary and more", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, NoSignature: true, Attestations: []string{"vsa", "spdx"}}
		}, "drop the other attestations (https://spdx.dev/Document)"},
		{"summary checks without a summary", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, VSA: verify.VSACheck{MinLevel: "SLSA_BUILD_LEVEL_1"}}
		}, "need --attestation vsa"},
		{"unknown level", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, Attestations: []string{"vsa"}, VSA: verify.VSACheck{MinLevel: "SLSA_SOURCE_LEVEL_2"}}
		}, "want one of SLSA_BUILD_LEVEL_0"},
		{"bad policy digest", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, Attestations: []string{"vsa"}, VSA: verify.VSACheck{PolicyDigest: "sha256:abc"}}
		}, "want sha256:HEX"},
		{"verifier id with a line feed", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, Attestations: []string{"vsa"}, VSA: verify.VSACheck{VerifierID: "https://v.example.com\n  input.x == 1"}}
		}, "control character"},
		{"verifier id as a kyverno glob", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, Attestations: []string{"vsa"}, VSA: verify.VSACheck{VerifierID: "https://*"}}
		}, "as a glob"},
		{"verifier id as a kyverno variable", Kyverno, func(t *testing.T) Spec {
			return Spec{PublicKey: readFile(t, "cosign.pub"), Images: []string{"a/**"}, Format: oci.Legacy, KyvernoKind: ImageValidatingPolicyKind, Attestations: []string{"vsa"}, VSA: verify.VSACheck{VerifierID: "{{ request.object.metadata.name }}"}}
		}, "as variables"},
		{"summary alone, hosted runners", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: mustGitHub(t, "acme/promote", "", "", true), Images: []string{"a/**"}, Format: oci.Legacy, NoSignature: true, Attestations: []string{"vsa"}}
		}, "drop --hosted-runners-only"},
		// The numeric ids are in no extension an engine reads.
		{"github repository id, kyverno", Kyverno, func(t *testing.T) Spec {
			id, err := identity.GitHub{Repo: "acme/app", RepoID: "123"}.Identity()
			if err != nil {
				t.Fatal(err)
			}
			return Spec{Identity: &id, Images: []string{"a/**"}, Format: oci.Legacy}
		}, "kyverno cannot check the numeric repository and owner ids (--github-repo-id and --github-owner-id)"},
		{"github owner id, policy-controller", PolicyController, func(t *testing.T) Spec {
			id, err := identity.GitHub{Repo: "acme/app", OwnerID: "456"}.Identity()
			if err != nil {
				t.Fatal(err)
			}
			return Spec{Identity: &id, Images: []string{"a/**"}, Format: oci.Legacy, Attestations: []string{"slsaprovenance"}}
		}, "Source Repository Owner Identifier (1.3.6.1.4.1.57264.1.17)"},
		{"raw identity refusing triggers", PolicyController, func(t *testing.T) Spec {
			return Spec{Identity: &identity.Identity{Subject: "s", Issuer: "i", RefuseTriggers: []string{"pull_request_target"}}, Images: []string{"a/**"}, Format: oci.Legacy}
		}, "only be written for the GitHub preset"},
		{"summary alone, preset, ImageValidatingPolicy", Kyverno, func(t *testing.T) Spec {
			return Spec{Identity: gh(t), Images: []string{"a/**"}, Format: oci.Legacy, KyvernoKind: ImageValidatingPolicyKind, NoSignature: true, Attestations: []string{"vsa"}}
		}, "use --kind clusterpolicy --format legacy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(tc.engine, tc.spec(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Generate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestResolveAttestation(t *testing.T) {
	for in, want := range map[string]string{
		"slsaprovenance":                   SLSAProvenanceV1,
		"SLSAProvenance1":                  SLSAProvenanceV1,
		"spdxjson":                         SPDX,
		"cyclonedx":                        CycloneDX,
		"vuln":                             Vuln,
		"https://slsa.dev/provenance/v0.2": "https://slsa.dev/provenance/v0.2",
	} {
		got, err := ResolveAttestation(in)
		if err != nil || got != want {
			t.Errorf("ResolveAttestation(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ResolveAttestation("ftp://x"); err == nil {
		t.Error("ResolveAttestation(ftp://x) succeeded, want an error")
	}
}

// TestKeyHash: a key's signatures are checked with the hash Seal (and
// cosign) signs with for its curve, which the engines must be told when it
// is not their default SHA-256.
func TestKeyHash(t *testing.T) {
	for _, tc := range []struct {
		curve elliptic.Curve
		want  string
	}{{elliptic.P256(), ""}, {elliptic.P384(), "sha384"}, {elliptic.P521(), "sha512"}} {
		k, err := ecdsa.GenerateKey(tc.curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Spec{PublicKey: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), Images: []string{"a/**"}, Format: oci.Legacy}.prepare()
		if err != nil {
			t.Fatalf("%s: prepare() = %v", tc.curve.Params().Name, err)
		}
		if p.key.hash != tc.want {
			t.Errorf("%s: hash = %q, want %q", tc.curve.Params().Name, p.key.hash, tc.want)
		}
	}
}
