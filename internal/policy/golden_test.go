package policy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/verify"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCase is one signer and its requirements; every case is rendered
// for both engines and both formats.
type goldenCase struct {
	name string
	spec func(t *testing.T) Spec
}

func mustGitHub(t *testing.T, repo, wf, ref string, hosted bool) *identity.Identity {
	t.Helper()
	id, err := identity.FromGitHub(repo, wf, ref, hosted)
	if err != nil {
		t.Fatalf("identity.FromGitHub() = %v", err)
	}
	return &id
}

func mustGitLab(t *testing.T, project, host, ref string, protected bool) *identity.Identity {
	t.Helper()
	id, err := identity.FromGitLab(project, host, ref, false, protected)
	if err != nil {
		t.Fatalf("identity.FromGitLab() = %v", err)
	}
	return &id
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var goldenCases = []goldenCase{
	{"github", func(t *testing.T) Spec {
		return Spec{Images: []string{"ghcr.io/acme/app**"}, Identity: mustGitHub(t, "acme/app", "", "", false)}
	}},
	{"github-provenance", func(t *testing.T) Spec {
		return Spec{Images: []string{"ghcr.io/acme/app**"}, Identity: mustGitHub(t, "acme/app", "release.yml", "refs/tags/v*", true),
			Attestations: []string{"slsaprovenance", "spdx"}}
	}},
	{"github-hosted-no-provenance", func(t *testing.T) Spec {
		return Spec{Images: []string{"ghcr.io/acme/app**"}, Identity: mustGitHub(t, "acme/app", "", "", true)}
	}},
	{"github-reusable", func(t *testing.T) Spec {
		return Spec{Images: []string{"ghcr.io/acme/app**"}, Identity: mustGitHub(t, "acme/app", "acme/shared/.github/workflows/build.yml@refs/tags/v3", "refs/heads/main", false)}
	}},
	{"github-reusable-provenance", func(t *testing.T) Spec {
		return Spec{Images: []string{"ghcr.io/acme/app**"}, Identity: mustGitHub(t, "acme/app", "acme/shared/.github/workflows/build.yml", "", false),
			Attestations: []string{"slsaprovenance"}}
	}},
	{"github-private-no-tlog", func(t *testing.T) Spec {
		return Spec{Images: []string{"registry.example.com/acme/app:*", "registry.example.com/acme/app@*"}, Identity: mustGitHub(t, "acme/app", "", "refs/heads/main", false),
			Attestations: []string{"slsaprovenance", "cyclonedx", "vuln"}, TrustedRoot: readFile(t, "trusted_root.json"), NoTlog: true}
	}},
	{"gitlab", func(t *testing.T) Spec {
		return Spec{Images: []string{"registry.gitlab.com/acme-group/platform/checkout**"}, Identity: mustGitLab(t, "acme-group/platform/checkout", "", "", false),
			Attestations: []string{"slsaprovenance"}}
	}},
	{"gitlab-self-managed-protected", func(t *testing.T) Spec {
		id := mustGitLab(t, "platform/checkout", "gitlab.example.com", "refs/heads/main", true)
		return Spec{Name: "checkout", Images: []string{"registry.example.com/platform/checkout**"}, Identity: id,
			Attestations: []string{"slsaprovenance"}, TrustedRoot: readFile(t, "trusted_root.json")}
	}},
	{"gitlab-protected-no-provenance", func(t *testing.T) Spec {
		return Spec{Images: []string{"registry.gitlab.com/acme/app**"}, Identity: mustGitLab(t, "acme/app", "", "", true)}
	}},
	{"ghes-private", func(t *testing.T) Spec {
		id, err := identity.FromGitHubHost("github.example.com", "platform/api", "", "main", false)
		if err != nil {
			t.Fatal(err)
		}
		return Spec{Images: []string{"registry.example.com/platform/api**"}, Identity: &id, TrustedRoot: readFile(t, "trusted_root.json")}
	}},
	{"gitlab-hosted", func(t *testing.T) Spec {
		id, err := identity.FromGitLab("acme/app", "", "", true, false)
		if err != nil {
			t.Fatal(err)
		}
		return Spec{Images: []string{"registry.gitlab.com/acme/app**"}, Identity: &id, Attestations: []string{"slsaprovenance"}}
	}},
	{"raw-identity", func(t *testing.T) Spec {
		return Spec{Images: []string{"docker.io/acme/*"}, Identity: &identity.Identity{
			IssuerRegexp: `^https://token\.actions\.githubusercontent\.com$`, Subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"},
			Attestations: []string{"https://example.com/custom/v1"}}
	}},
	{"key", func(t *testing.T) Spec {
		return Spec{Images: []string{"ghcr.io/acme/app**"}, PublicKey: readFile(t, "cosign.pub"), Attestations: []string{"slsaprovenance"}}
	}},
	// Admission on a promotion job's Verification Summary alone.
	{"vsa-github", func(t *testing.T) Spec {
		return Spec{Images: []string{"ghcr.io/acme/app**"}, Identity: mustGitHub(t, "acme/promote", "", "refs/heads/main", false),
			Attestations: []string{"vsa"}, NoSignature: true, VSA: verify.VSACheck{MinLevel: "SLSA_BUILD_LEVEL_2"}}
	}},
	{"vsa-key", func(t *testing.T) Spec {
		return Spec{Images: []string{"ghcr.io/acme/app**"}, PublicKey: readFile(t, "cosign.pub"), Attestations: []string{"vsa"}, NoSignature: true,
			VSA: verify.VSACheck{PolicyDigest: "sha256:" + strings.Repeat("ab", 32)}}
	}},
	{"vsa-raw-identity-private", func(t *testing.T) Spec {
		return Spec{Images: []string{"registry.example.com/acme/**"}, Identity: &identity.Identity{
			Issuer: "https://token.actions.githubusercontent.com", Subject: "https://github.com/acme/promote/.github/workflows/promote.yml@refs/heads/main"},
			Attestations: []string{"vsa"}, NoSignature: true, VSA: verify.VSACheck{VerifierID: "https://verifier.example.com/v1", MinLevel: "SLSA_BUILD_LEVEL_1"},
			TrustedRoot: readFile(t, "trusted_root.json"), NoTlog: true}
	}},
	// A summary beside the image signature.
	{"vsa-with-signature", func(t *testing.T) Spec {
		return Spec{Images: []string{"ghcr.io/acme/app**"}, PublicKey: readFile(t, "cosign.pub"), Attestations: []string{"vsa"}}
	}},
	{"key-no-tlog-private", func(t *testing.T) Spec {
		return Spec{Images: []string{"ghcr.io/acme/app**"}, PublicKey: readFile(t, "cosign.pub"), NoTlog: true, TrustedRoot: readFile(t, "trusted_root.json")}
	}},
}

// ivpGoldenCases are rendered as Kyverno ImageValidatingPolicies only:
// the TUF settings are that kind's alone.
var ivpGoldenCases = []goldenCase{
	{"raw-identity-private-tuf", func(t *testing.T) Spec {
		return Spec{Images: []string{"registry.example.com/acme/**"}, Identity: &identity.Identity{
			Issuer: "https://token.actions.githubusercontent.com", SubjectRegexp: `^https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/v.*$`},
			Attestations: []string{"slsaprovenance", "spdx"}, TrustedRoot: readFile(t, "trusted_root.json"), NoTlog: true,
			TUFMirror: "https://tuf.example.com", TUFRoot: []byte(`{"signed":{"_type":"root"}}`)}
	}},
}

// TestGolden renders every case for both engines and formats, and as a
// Kyverno ImageValidatingPolicy (NAME.kyverno-ivp.yaml; its verifier picks
// the format itself); a refusal is golden too (the file holds
// "error: ..."), so that what Seal will not write is as reviewed as what
// it writes.
func TestGolden(t *testing.T) {
	for _, gc := range append(append([]goldenCase{}, goldenCases...), ivpGoldenCases...) {
		name := gc.name + ".kyverno-ivp"
		t.Run(name, func(t *testing.T) {
			s := gc.spec(t)
			s.Format = oci.Legacy
			s.KyvernoKind = ImageValidatingPolicyKind
			checkGolden(t, name, s, Kyverno)
		})
	}
	for _, gc := range goldenCases {
		for _, engine := range []Engine{Kyverno, PolicyController} {
			for _, format := range []oci.Format{oci.Bundle, oci.Legacy} {
				name := gc.name + "." + string(engine) + "." + format.String()
				t.Run(name, func(t *testing.T) {
					s := gc.spec(t)
					s.Format = format
					checkGolden(t, name, s, engine)
				})
			}
		}
	}
}

func checkGolden(t *testing.T, name string, s Spec, engine Engine) {
	t.Helper()
	got, err := Generate(engine, s)
	if err != nil {
		got = []byte("error: " + err.Error() + "\n")
	}
	path := filepath.Join("testdata", "golden", name+".yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Generate(%s, %s) differs from %s (-want +got):\n%s", engine, s.Format, path, diff)
	}
}
