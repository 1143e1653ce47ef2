package e2e

import (
	"path/filepath"
	"testing"

	"github.com/sealsign/seal/internal/testbed"
)

// TestGitHubAttestationVerify: bundles seal writes for GitHub identities
// pass GitHub's own verifier, `gh attestation verify`, offline: as files
// for a release artifact, and from the registry for an image.
func TestGitHubAttestationVerify(t *testing.T) {
	gh := testbed.Bin(t, testbed.BinGH)
	s := startSigstore(t)
	dir := t.TempDir()
	root := testbed.TrustedRootJSONL(t, s.fulcio, s.tsa)
	genv, tok := s.githubEnv(t)
	keyless := []string{"--identity-token", tok, "--fulcio-url", s.fulcio.URL, "--timestamp-url", s.tsa.TimestampURL(), "--no-tlog"}
	ghEnv := []string{"GH_TOKEN=offline", "GH_NO_UPDATE_NOTIFIER=1", "GH_CONFIG_DIR=" + t.TempDir()}
	ghArgs := []string{"--custom-trusted-root", root, "--cert-oidc-issuer", s.issuer.GitHub}

	t.Run("file", func(t *testing.T) {
		art := writeFile(t, dir, "app-linux-amd64.tar.gz", "a release binary")
		out := filepath.Join(dir, "bundles")
		mustRun(t, genv, sealBin, append([]string{"attest", "--provenance", "--subject-path", art, "--output-dir", out}, keyless...)...)
		bundles, _ := filepath.Glob(filepath.Join(out, "*.sigstore.json"))
		if len(bundles) != 1 {
			t.Fatalf("seal wrote %d bundles, want 1", len(bundles))
		}
		mustRun(t, ghEnv, gh, append([]string{"attestation", "verify", art, "--bundle", bundles[0], "--owner", "acme"}, ghArgs...)...)
		mustRun(t, ghEnv, gh, append([]string{"attestation", "verify", art, "--bundle", bundles[0], "--repo", s.githubRepo,
			"--signer-workflow", s.githubRepo + "/.github/workflows/release.yml"}, ghArgs...)...)
		if out, err := run(t, ghEnv, gh, append([]string{"attestation", "verify", art, "--bundle", bundles[0], "--owner", "evilcorp"}, ghArgs...)...); err == nil {
			t.Errorf("gh accepted the bundle for another owner:\n%s", out)
		}
		// seal verifies the same file offline, and refuses a changed file.
		sealArgs := []string{"verify", "--bundle", bundles[0], "--github-repo", s.githubRepo, "--certificate-oidc-issuer", s.issuer.GitHub,
			"--trusted-root", s.root, "--no-tlog", "--attestation", "slsaprovenance1"}
		mustRun(t, nil, sealBin, append(sealArgs, art)...)
		changed := writeFile(t, t.TempDir(), "app-linux-amd64.tar.gz", "a release binary, altered")
		expectVerify(t, false, "about another artifact", append(sealArgs, changed)...)
	})
	t.Run("image", func(t *testing.T) {
		reg := testbed.StartRegistry(t, testbed.Olareg)
		img := pushImage(t, reg.Host, "acme/payments")
		mustRun(t, genv, sealBin, append([]string{"attest", "--sign", "--provenance", "--format", "bundle", "--insecure-registry", reg.Host, img}, keyless...)...)
		mustRun(t, ghEnv, gh, append([]string{"attestation", "verify", "oci://" + img, "--bundle-from-oci", "--owner", "acme"}, ghArgs...)...)
	})
}
