package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/policy"
	"github.com/sealsign/seal/internal/verify"
)

func sealPolicy(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Execute(context.Background(), append([]string{"policy"}, args...), &o, &e)
	return o.String(), e.String(), code
}

// TestPolicyFlags checks that the flags reach policy.Generate as the
// library's own presets and that contradictions are usage errors.
func TestPolicyFlags(t *testing.T) {
	pub := filepath.Join("..", "policy", "testdata", "cosign.pub")
	root := filepath.Join("..", "policy", "testdata", "trusted_root.json")
	mustGen := func(e policy.Engine, s policy.Spec) string {
		t.Helper()
		b, err := policy.Generate(e, s)
		if err != nil {
			t.Fatalf("Generate() = %v", err)
		}
		return string(b)
	}
	gh, err := identity.FromGitHub("acme/app", "release.yml", "refs/heads/main", false)
	if err != nil {
		t.Fatal(err)
	}
	ghTest := gh
	ghTest.Issuer = "http://127.0.0.1:9999/github"
	rootJSON, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		want     func() string // the exact policy on stdout
		inStderr string
	}{
		{
			name: "github kyverno",
			args: []string{"kyverno", "--kind", "clusterpolicy", "--github-repo", "acme/app", "--github-workflow", "release.yml", "--ref", "refs/heads/main", "--image", "ghcr.io/acme/app**"},
			want: func() string {
				return mustGen(policy.Kyverno, policy.Spec{Identity: &gh, Images: []string{"ghcr.io/acme/app**"}, Format: oci.Legacy, KyvernoKind: policy.ClusterPolicyKind})
			},
		},
		// The default kind, ImageValidatingPolicy, cannot check which
		// repository signed (internal/policy TestKyvernoIVP).
		{name: "github kyverno default kind", args: []string{"kyverno", "--github-repo", "acme/app", "--image", "r/**"}, code: 2, inStderr: "use --kind clusterpolicy --format legacy"},
		{
			name: "raw identity kyverno",
			args: []string{"kyverno", "--certificate-identity", "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", "--certificate-oidc-issuer", "http://127.0.0.1:9999/github",
				"--image", "r/**", "--trusted-root", root, "--no-tlog", "--tuf-mirror", "https://tuf.example.com", "--tuf-root", root},
			want: func() string {
				id := identity.Identity{Subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", Issuer: "http://127.0.0.1:9999/github"}
				return mustGen(policy.Kyverno, policy.Spec{Identity: &id, Images: []string{"r/**"}, Format: oci.Legacy, TrustedRoot: rootJSON, NoTlog: true,
					KyvernoKind: policy.ImageValidatingPolicyKind, TUFMirror: "https://tuf.example.com", TUFRoot: rootJSON})
			},
		},
		{name: "kind for policy-controller", args: []string{"policy-controller", "--kind", "clusterpolicy", "--key", pub, "--image", "r/**"}, code: 2, inStderr: "--kind applies to kyverno"},
		{name: "bad kind", args: []string{"kyverno", "--kind", "policy", "--key", pub, "--image", "r/**"}, code: 2, inStderr: "unknown kyverno policy kind"},
		{name: "tuf mirror for a clusterpolicy", args: []string{"kyverno", "--kind", "clusterpolicy", "--key", pub, "--image", "r/**", "--tuf-mirror", "https://tuf.example.com", "--tuf-root", root}, code: 2, inStderr: "ImageValidatingPolicy"},
		{
			name: "github with a test issuer",
			args: []string{"policy-controller", "--github-repo", "acme/app", "--github-workflow", "release.yml", "--ref", "main", "--certificate-oidc-issuer", "http://127.0.0.1:9999/github",
				"--image", "r/**", "--trusted-root", root, "--no-tlog", "--attestation", "slsaprovenance"},
			want: func() string {
				return mustGen(policy.PolicyController, policy.Spec{Identity: &ghTest, Images: []string{"r/**"}, Format: oci.Legacy, TrustedRoot: rootJSON, NoTlog: true, Attestations: []string{policy.SLSAProvenanceV1}})
			},
		},
		// No engine can tell which GitLab project signed (internal/policy
		// TestForeignCaller): refused, naming seal verify with the same flags.
		{name: "gitlab self-managed", args: []string{"policy-controller", "--gitlab-project", "acme/platform/app", "--gitlab-host", "gitlab.example.com", "--ref", "main", "--protected-ref-only",
			"--attestation", "slsaprovenance", "--format", "legacy", "--image", "r/**", "--name", "app"}, code: 2, inStderr: "seal verify --gitlab-project acme/platform/app --gitlab-host gitlab.example.com"},
		{name: "github in bundle format", args: []string{"kyverno", "--kind", "clusterpolicy", "--github-repo", "acme/app", "--format", "bundle", "--image", "r/**"}, code: 2, inStderr: "use --format legacy"},
		{
			name: "key",
			args: []string{"kyverno", "--key", pub, "--format", "legacy", "--image", "r/**"},
			want: func() string {
				return mustGen(policy.Kyverno, policy.Spec{PublicKey: pubPEM, Images: []string{"r/**"}, Format: oci.Legacy, KyvernoKind: policy.ImageValidatingPolicyKind})
			},
		},
		{
			name: "key clusterpolicy",
			args: []string{"kyverno", "--kind", "clusterpolicy", "--key", pub, "--format", "legacy", "--image", "r/**"},
			want: func() string {
				return mustGen(policy.Kyverno, policy.Spec{PublicKey: pubPEM, Images: []string{"r/**"}, Format: oci.Legacy})
			},
		},
		{
			name: "summary alone",
			args: []string{"policy-controller", "--key", pub, "--no-signature", "--attestation", "vsa", "--vsa-level", "SLSA_BUILD_LEVEL_2",
				"--vsa-verifier", "https://verifier.example.com", "--vsa-policy-digest", "sha256:" + strings.Repeat("ab", 32), "--image", "r/**"},
			want: func() string {
				return mustGen(policy.PolicyController, policy.Spec{PublicKey: pubPEM, Images: []string{"r/**"}, Format: oci.Legacy, NoSignature: true, Attestations: []string{policy.VSA},
					VSA: verify.VSACheck{VerifierID: "https://verifier.example.com", MinLevel: "SLSA_BUILD_LEVEL_2", PolicyDigest: "sha256:" + strings.Repeat("ab", 32)}})
			},
		},
		{name: "no signature without a summary", args: []string{"kyverno", "--key", pub, "--no-signature", "--image", "r/**"}, code: 2, inStderr: "add --attestation vsa"},
		{name: "summary level without a summary", args: []string{"kyverno", "--key", pub, "--vsa-level", "SLSA_BUILD_LEVEL_1", "--image", "r/**"}, code: 2, inStderr: "need --attestation vsa"},
		{name: "unknown engine", args: []string{"gatekeeper", "--key", pub, "--image", "r/**"}, code: 2, inStderr: "unknown policy engine"},
		{name: "no signer", args: []string{"kyverno", "--image", "r/**"}, code: 2, inStderr: "exactly one of"},
		{name: "two signers", args: []string{"kyverno", "--key", pub, "--github-repo", "a/b", "--image", "r/**"}, code: 2, inStderr: "exactly one of"},
		{name: "no image", args: []string{"kyverno", "--github-repo", "a/b"}, code: 2, inStderr: "--image is required"},
		{name: "raw without issuer", args: []string{"kyverno", "--certificate-identity", "x", "--image", "r/**"}, code: 2, inStderr: "needs --certificate-oidc-issuer"},
		{name: "protected on github", args: []string{"kyverno", "--github-repo", "a/b", "--protected-ref-only", "--image", "r/**"}, code: 2, inStderr: "applies to --gitlab-project"},
		{name: "hosted without provenance", args: []string{"kyverno", "--kind", "clusterpolicy", "--github-repo", "a/b", "--hosted-runners-only", "--image", "r/**"}, code: 2, inStderr: "--attestation slsaprovenance"},
		// The preset's flags that seal verify takes, as seal policy takes
		// them: the ids no engine can check are refused, a trigger allowed
		// is no longer refused.
		{name: "github repository id", args: []string{"policy-controller", "--github-repo", "a/b", "--github-repo-id", "123", "--image", "r/**"}, code: 2,
			inStderr: "policy-controller cannot check the numeric repository and owner ids (--github-repo-id and --github-owner-id)"},
		{name: "gitlab project id", args: []string{"kyverno", "--kind", "clusterpolicy", "--gitlab-project", "a/b", "--gitlab-project-id", "123", "--image", "r/**"}, code: 2,
			inStderr: "seal verify --gitlab-project a/b"},
		{name: "repository id not a number", args: []string{"kyverno", "--kind", "clusterpolicy", "--github-repo", "a/b", "--github-owner-id", "acme", "--image", "r/**"}, code: 2,
			inStderr: `GitHub owner id "acme": want a number`},
		{name: "allow a trigger", args: []string{"policy-controller", "--github-repo", "acme/app", "--allow-trigger", "workflow_run", "--image", "r/**"},
			want: func() string {
				id, err := identity.GitHub{Repo: "acme/app", AllowTriggers: []string{"workflow_run"}}.Identity()
				if err != nil {
					t.Fatal(err)
				}
				return mustGen(policy.PolicyController, policy.Spec{Identity: &id, Images: []string{"r/**"}, Format: oci.Legacy})
			},
		},
		{name: "allow a trigger not refused", args: []string{"policy-controller", "--github-repo", "acme/app", "--allow-trigger", "push", "--image", "r/**"}, code: 2,
			inStderr: "refuses only pull_request_target and workflow_run"},
		{name: "allow a trigger without the github preset", args: []string{"kyverno", "--key", pub, "--allow-trigger", "workflow_run", "--image", "r/**"}, code: 2,
			inStderr: "--allow-trigger applies to --github-repo"},
		{name: "key in bundle format for policy-controller", args: []string{"policy-controller", "--key", pub, "--format", "bundle", "--image", "r/**"}, code: 2, inStderr: "--format legacy"},
		{name: "bad format", args: []string{"kyverno", "--key", pub, "--image", "r/**", "--format", "both"}, code: 2, inStderr: "a policy reads one format"},
		{name: "missing key file", args: []string{"kyverno", "--key", "nope.pub", "--image", "r/**"}, code: 2, inStderr: "--key: reading key file: open nope.pub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := sealPolicy(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want(), stdout); diff != "" {
					t.Errorf("stdout differs from the library's policy (-want +got):\n%s", diff)
				}
			}
			if !strings.Contains(stderr, tc.inStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.inStderr)
			}
		})
	}
}

func TestPolicyOutputFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "policy.yaml")
	stdout, stderr, code := sealPolicy(t, "kyverno", "--kind", "clusterpolicy", "--github-repo", "acme/app", "--image", "ghcr.io/acme/**", "-o", out)
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing with -o", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("kind: ClusterPolicy")) {
		t.Errorf("%s does not hold a ClusterPolicy:\n%s", out, b)
	}
}
