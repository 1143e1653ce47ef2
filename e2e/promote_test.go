package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/testbed"
)

// TestPromote is seal promote on real registries, with and without the OCI referrers API:
// an image signed keyless in the bundle format only (as cosign v4 will write) is verified
// against its repository and promoted by a key-holding promotion signer, which publishes
// the summary in both formats and, with --sign, its own signature of the digest; cosign v2
// and v3 and seal verify check each of them with the promotion key. The same image checked
// against another repository fails, and nothing signed by the promotion signer reaches the
// registry; without the promotion key nothing does either.
func TestPromote(t *testing.T) {
	cosign := map[int]string{2: testbed.Bin(t, testbed.BinCosign), 3: testbed.Bin(t, testbed.BinCosignV3)}
	s := startSigstore(t)
	dir := t.TempDir()
	const password = "promotion-pass-0123"
	mustRun(t, []string{"COSIGN_PASSWORD=" + password}, sealBin, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "promotion"))
	key, pub := filepath.Join(dir, "promotion.key"), filepath.Join(dir, "promotion.pub")
	claims := testbed.GitHubClaims(s.githubRepo)
	promote := func(env []string, host string, flags ...string) (string, error) {
		args := []string{"promote", "--trusted-root", s.root, "--verify-no-tlog", "--certificate-oidc-issuer", s.issuer.GitHub,
			"--no-tlog", "--insecure-registry", host}
		return run(t, env, sealBin, append(args, flags...)...)
	}
	keyEnv := []string{"COSIGN_PASSWORD=" + password, "PROMOTION_KEY=" + readText(t, key)}
	byKey := func(host string, extra ...string) []string {
		return append([]string{"verify", "--key", pub, "--insecure-registry", host}, extra...)
	}
	cosignKey := func(v int, format string) []string {
		args := []string{"--allow-http-registry", "--insecure-ignore-tlog", "--key", pub}
		if format == "bundle" {
			return append(args, "--new-bundle-format", "--trusted-root", s.emptyRoot)
		}
		if v == 3 {
			args = append(args, "--new-bundle-format=false")
		}
		return args
	}

	for _, kind := range []testbed.RegistryKind{testbed.Distribution, testbed.Olareg} {
		t.Run(string(kind), func(t *testing.T) {
			reg := testbed.StartRegistry(t, kind)
			img := pushImage(t, reg.Host, "acme/payments")
			s.keylessSign(t, reg.Host, img, "bundle", claims)
			repo, digest, _ := strings.Cut(strings.TrimPrefix(img, reg.Host+"/"), "@")
			if tags := tagsOf(t, reg.Host, repo); slices.ContainsFunc(tags, func(tg string) bool { return strings.HasSuffix(tg, ".sig") || strings.HasSuffix(tg, ".att") }) {
				t.Fatalf("the bundle-only image has legacy tags: %q", tags)
			}

			// A foreign repository's checks fail: the summary says FAILED,
			// and nothing is signed.
			failed := filepath.Join(dir, string(kind)+"-failed.vsa.json")
			out, err := promote(keyEnv, reg.Host, "--github-repo", "acme/payment", "--attestation", "slsaprovenance1", "--key", "env://PROMOTION_KEY", "--sign", "--vsa", failed, img)
			if err == nil || !strings.Contains(out, "not promoted, nothing signed") {
				t.Fatalf("seal promote against another repository: %v, want it to fail and sign nothing:\n%s", err, out)
			}
			if raw, err := os.ReadFile(failed); err != nil || !strings.Contains(string(raw), `"verificationResult": "FAILED"`) {
				t.Errorf("seal promote --vsa on a failure: %v, want the FAILED summary kept:\n%s", err, raw)
			}
			tagsBefore := tagsOf(t, reg.Host, repo)
			expectVerify(t, false, "no valid", byKey(reg.Host, "--no-signature", "--attestation", "vsa", img)...)
			expectVerify(t, false, "no valid signature", byKey(reg.Host, img)...)

			// Without the promotion key (a foreign project cannot read the
			// variable) nothing is published either.
			out, err = promote([]string{"COSIGN_PASSWORD=" + password}, reg.Host, "--github-repo", s.githubRepo, "--key", "env://PROMOTION_KEY", img)
			if err == nil || !strings.Contains(out, "PROMOTION_KEY") {
				t.Fatalf("seal promote without its key: %v, want a failure naming the variable:\n%s", err, out)
			}
			if got := tagsOf(t, reg.Host, repo); !slices.Equal(got, tagsBefore) {
				t.Errorf("failed promotions changed the tags: %q, then %q", tagsBefore, got)
			}
			expectVerify(t, false, "no valid", byKey(reg.Host, "--no-signature", "--attestation", "vsa", img)...)

			// The right repository: promoted, in both formats, with the
			// promotion signer's signature of the digest.
			kept := filepath.Join(dir, string(kind)+".vsa.json")
			out, err = promote(keyEnv, reg.Host, "--github-repo", s.githubRepo, "--ref", "main", "--attestation", "slsaprovenance1", "--key", "env://PROMOTION_KEY", "--sign", "--vsa", kept, "--json", img)
			if err != nil {
				t.Fatalf("seal promote: %v\n%s", err, out)
			}
			for _, want := range []string{"wrote bundle attestation " + vsaType, "wrote legacy attestation " + vsaType, "wrote bundle signature", "wrote legacy signature", `"promoted": true`} {
				if !strings.Contains(out, want) {
					t.Errorf("seal promote did not say %q:\n%s", want, out)
				}
			}
			checkSummary(t, kept, img)
			expectVerify(t, true, "", byKey(reg.Host, "--no-signature", "--attestation", "vsa", "--vsa-level", "SLSA_BUILD_LEVEL_2", img)...)
			expectVerify(t, true, "", byKey(reg.Host, img)...)
			for _, v := range []int{2, 3} {
				for _, format := range []string{"bundle", "legacy"} {
					if v == 2 && format == "legacy" {
						continue // cosign v2 reads an image's bundles when it has any, as this one does
					}
					out := mustRun(t, nil, cosign[v], append(append([]string{"verify-attestation", "--type", vsaType}, cosignKey(v, format)...), img)...)
					if got := attestedTypes(t, out); len(got) != 1 || got[0] != vsaType {
						t.Errorf("cosign v%d verify-attestation (%s) verified %q, want the one summary:\n%s", v, format, got, out)
					}
					out = mustRun(t, nil, cosign[v], append(append([]string{"verify"}, cosignKey(v, format)...), img)...)
					if !strings.Contains(out, digest) {
						t.Errorf("cosign v%d verify (%s) of the promotion signature does not name %s:\n%s", v, format, digest, out)
					}
				}
			}
			// A re-run publishes nothing new.
			out, err = promote(keyEnv, reg.Host, "--github-repo", s.githubRepo, "--attestation", "slsaprovenance1", "--key", "env://PROMOTION_KEY", "--sign", img)
			if err != nil || !strings.Contains(out, "exists legacy signature") {
				t.Errorf("seal promote again: %v, want the promotion signature reported as existing:\n%s", err, out)
			}
		})
	}

	t.Run("usage", func(t *testing.T) {
		_, out, code := runSplit(t, nil, sealBin, "promote", "--key", key, "127.0.0.1:1/acme/app@sha256:"+strings.Repeat("0", 64))
		if code != 2 || !strings.Contains(out, "give the checks the image must pass") {
			t.Errorf("seal promote without checks: exit %d, want 2 and the checks asked for:\n%s", code, out)
		}
	})
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
