package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyFlux: seal policy flux writes the OCIRepository for the promotion signer from
// seal policy's identity flags, and refuses the flags a Flux verify block cannot honour.
func TestPolicyFlux(t *testing.T) {
	pub := filepath.Join("..", "policy", "testdata", "cosign.pub")
	stdout, stderr, code := sealPolicy(t, "flux", "--key", pub, "--image", "ghcr.io/acme/app-manifests:1.2.0")
	if code != 0 || !strings.Contains(stdout, "kind: OCIRepository") || !strings.Contains(stdout, "provider: cosign") || !strings.Contains(stdout, "secretRef:") {
		t.Fatalf("seal policy flux --key: exit %d, stderr %q, want an OCIRepository verifying with the key:\n%s", code, stderr, stdout)
	}
	stdout, stderr, code = sealPolicy(t, "flux", "--github-repo", "acme/promote", "--github-workflow", "promote.yml", "--ref", "main", "--image", "ghcr.io/acme/app-manifests")
	if code != 0 || !strings.Contains(stdout, `subject: ^https://github\.com/acme/promote/\.github/workflows/promote\.yml@refs/heads/main$`) {
		t.Fatalf("seal policy flux --github-repo: exit %d, stderr %q, want matchOIDCIdentity on the promotion workflow:\n%s", code, stderr, stdout)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"attestation", []string{"--key", pub, "--image", "ghcr.io/acme/app", "--attestation", "vsa", "--no-signature"}, "does not apply to flux"},
		{"two images", []string{"--key", pub, "--image", "ghcr.io/acme/app", "--image", "ghcr.io/acme/other"}, "give one --image"},
		{"gitlab", []string{"--gitlab-project", "acme/app", "--ref", "main", "--image", "registry.gitlab.com/acme/app"}, "promote with a key"},
		{"no signer", []string{"--image", "ghcr.io/acme/app"}, "exactly one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := sealPolicy(t, append([]string{"flux"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q: want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// TestPolicyPromotion: seal policy --promotion writes the summary-alone policy for the
// promotion signer, and refuses what a promotion policy cannot be.
func TestPolicyPromotion(t *testing.T) {
	pub := filepath.Join("..", "policy", "testdata", "cosign.pub")
	stdout, stderr, code := sealPolicy(t, "policy-controller", "--promotion", "--key", pub, "--format", "bundle", "--no-tlog", "--image", "ghcr.io/acme/**")
	if code != 0 || !strings.Contains(stdout, "with no image signature required") || !strings.Contains(stdout, "in cosign's .sig/.att tags, where seal promote publishes it too") {
		t.Fatalf("seal policy policy-controller --promotion --key --format bundle: exit %d, stderr %q, want the legacy format, said:\n%s", code, stderr, stdout)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"attestation", []string{"kyverno", "--promotion", "--key", pub, "--attestation", "vsa", "--image", "ghcr.io/acme/**"}, "give no attestations"},
		{"gitlab keyless", []string{"kyverno", "--kind", "clusterpolicy", "--promotion", "--gitlab-project", "acme/app", "--ref", "main", "--image", "ghcr.io/acme/**"}, "promote with a key"},
		{"gitlab preset names the promotion", []string{"policy-controller", "--gitlab-project", "acme/app", "--ref", "main", "--image", "ghcr.io/acme/**"}, "seal verify --gitlab-project acme/app` before they are deployed: no policy-controller policy can check this in either format; or promote the images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := sealPolicy(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q: want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}
