package action

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/keys"
	"github.com/sealsign/seal/internal/testbed"
)

// TestReadmePromoteWorkflow runs the README's GitHub promotion workflow as users copy it, with
// act: the release job signs keyless and attests provenance, the promote job verifies the image
// against this repository's workflows on main and signs the verification summary with the
// promotion key from the environment's secrets (base64, as the README says). cosign v3 then
// verifies the summary with the promotion public key, in both formats.
//
// What the test changes, as TestReadmeWorkflow does: the Seal actions' <commit-sha> names a
// commit act takes from the checkout; ghcr.io is the testbed's registry; the docker actions
// are stand-ins; lines added to the Seal steps' inputs give them the testbed's Sigstore, its
// plain-HTTP registry, and the promotion's verification the testbed's trust.
func TestReadmePromoteWorkflow(t *testing.T) {
	snippet := testbed.DocSnippet(t, filepath.Join(repoRoot(t), "README.md"), "github-promote")
	for _, want := range []string{"      id-token: write", "    environment: promotion", "      - uses: sealsign/seal/actions/promote@<commit-sha>\n", "          key: ${{ secrets.PROMOTION_KEY }}"} {
		if !strings.Contains(snippet, want) {
			t.Errorf("the README's promotion workflow does not have %q", strings.TrimSpace(want))
		}
	}
	const anchor = "          digest: ${{ steps.build.outputs.digest }}\n"
	if !strings.Contains(snippet, anchor) || !strings.HasSuffix(snippet, "          ref: main\n") {
		t.Fatalf("the README's promotion workflow does not end its Seal steps' inputs where the test adds the testbed's:\n%s", snippet)
	}
	const password = "promotion-act-0123"
	priv, pub, err := keys.Generate([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(t.TempDir(), "promotion.pub")
	if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}

	const sealPin = "sealsign/seal@" + "5ea15ea15ea15ea15ea15ea15ea15ea15ea15ea1"
	j := newActJob(t, ".github/workflows/release.yml", "release", func(j *actJob) []byte {
		w := strings.ReplaceAll(snippet, "sealsign/seal@<commit-sha>", sealPin)
		w = strings.ReplaceAll(w, "sealsign/seal/actions/promote@<commit-sha>", "sealsign/seal/actions/promote@5ea15ea15ea15ea15ea15ea15ea15ea15ea15ea1")
		w = strings.ReplaceAll(w, "ghcr.io", j.reg.Host)
		const in = "          "
		w = strings.Replace(w, anchor, anchor+in+"# Added by the test: the testbed's Sigstore and registry.\n"+
			in+"fulcio-url: "+j.ful.URL+"\n"+in+"timestamp-url: "+j.tsa.TimestampURL()+"\n"+in+"tlog: 'false'\n"+in+"insecure-registry: "+j.reg.Host+"\n", 1)
		return []byte(w + in + "# Added by the test: the testbed's registry and trust.\n" +
			in + "insecure-registry: " + j.reg.Host + "\n" + in + "trusted-root: " + j.trustedRoot + "\n" +
			in + "certificate-oidc-issuer: " + j.iss.GitHub + "\n" + in + "verify-tlog: 'false'\n" + in + "tlog: 'false'\n")
	})
	j.localRepos[sealPin] = j.dir
	j.secrets = map[string]string{"PROMOTION_KEY": base64.StdEncoding.EncodeToString(priv), "PROMOTION_KEY_PASSWORD": password}

	digest := pushImage(t, j.reg, actRepository, "latest")
	image := j.reg.Repo(actRepository) + "@" + digest
	j.localRepos[loginActionPin] = standInAction(t, loginStandIn(j.reg.Host), nil)
	j.localRepos[buildActionPin] = standInAction(t, buildStandIn, nil)

	log := j.run(t, nil)
	if n := strings.Count(log, "Job succeeded"); n != 2 {
		t.Errorf("%d jobs succeeded, want 2 (release, promote)", n)
	}
	checkNoSecrets(t, "act log", log, j.idToken, j.requestToken, j.githubToken, j.secrets["PROMOTION_KEY"], password)
	for _, want := range []string{"wrote bundle attestation https://slsa.dev/verification_summary/v1", "wrote legacy attestation https://slsa.dev/verification_summary/v1"} {
		if !strings.Contains(log, want) {
			t.Errorf("the promote job did not say %q", want)
		}
	}

	emptyRoot := filepath.Join(t.TempDir(), "empty_root.json")
	if err := os.WriteFile(emptyRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cosign3 := testbed.Bin(t, testbed.BinCosignV3)
	env := []string{"TUF_ROOT=" + t.TempDir()}
	base := []string{"verify-attestation", "--type", "https://slsa.dev/verification_summary/v1", "--key", pubFile, "--insecure-ignore-tlog=true", "--allow-http-registry"}
	runCmd(t, env, cosign3, append(append(base, "--new-bundle-format", "--trusted-root", emptyRoot), image)...)
	runCmd(t, env, cosign3, append(append(base, "--new-bundle-format=false"), image)...)
}

// TestActRootPromote runs the root action with promote: true in act: the release job signs and
// attests keyless, then promotes the digest it signed with promotion-key (an environment
// secret, base64); cosign v3 verifies the summary with the promotion public key in both formats.
func TestActRootPromote(t *testing.T) {
	const password = "promotion-root-0123"
	priv, pub, err := keys.Generate([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(t.TempDir(), "promotion.pub")
	if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	const sealPin = "sealsign/seal@" + "5ea15ea15ea15ea15ea15ea15ea15ea15ea15ea1"
	var digest string
	j := newActJob(t, ".github/workflows/release.yml", "release", func(j *actJob) []byte {
		digest = pushImage(t, j.reg, "sealsign/app", "v1")
		return []byte(`name: release
on:
  push:
    branches: [main]
jobs:
  release:
    runs-on: ubuntu-latest
    environment: promotion
    permissions:
      contents: read
      packages: write
      id-token: write
    steps:
      - id: seal
        uses: ` + sealPin + `
        env:
          COSIGN_PASSWORD: ${{ secrets.PROMOTION_KEY_PASSWORD }}
        with:
          image: ` + j.reg.Repo("sealsign/app") + `
          digest: ` + digest + `
          promote: true
          promotion-key: ${{ secrets.PROMOTION_KEY }}
          fulcio-url: ` + j.ful.URL + `
          timestamp-url: ` + j.tsa.TimestampURL() + `
          tlog: 'false'
          insecure-registry: ` + j.reg.Host + `
          trusted-root: ` + j.trustedRoot + `
          certificate-oidc-issuer: ` + j.iss.GitHub + `
`)
	})
	j.localRepos[sealPin] = j.dir
	j.secrets = map[string]string{"PROMOTION_KEY": base64.StdEncoding.EncodeToString(priv), "PROMOTION_KEY_PASSWORD": password}
	log := j.run(t, nil)
	checkNoSecrets(t, "act log", log, j.idToken, j.requestToken, j.githubToken, j.secrets["PROMOTION_KEY"], password)
	for _, want := range []string{"seal promote", "wrote bundle attestation https://slsa.dev/verification_summary/v1", "wrote legacy attestation https://slsa.dev/verification_summary/v1"} {
		if !strings.Contains(log, want) {
			t.Errorf("the release job did not say %q", want)
		}
	}
	image := j.reg.Repo("sealsign/app") + "@" + digest
	emptyRoot := filepath.Join(t.TempDir(), "empty_root.json")
	if err := os.WriteFile(emptyRoot, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cosign3 := testbed.Bin(t, testbed.BinCosignV3)
	env := []string{"TUF_ROOT=" + t.TempDir()}
	base := []string{"verify-attestation", "--type", "https://slsa.dev/verification_summary/v1", "--key", pubFile, "--insecure-ignore-tlog=true", "--allow-http-registry"}
	runCmd(t, env, cosign3, append(append(base, "--new-bundle-format", "--trusted-root", emptyRoot), image)...)
	runCmd(t, env, cosign3, append(append(base, "--new-bundle-format=false"), image)...)
}
