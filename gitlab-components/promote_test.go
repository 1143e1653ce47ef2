package components

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/keys"
	"github.com/sealsign/seal/internal/testbed"
)

// testbedInputs are the lines the test adds to a component's inputs: the testbed's Sigstore
// and registry, where a real pipeline uses the public instance and gitlab.com's issuer.
func testbedInputs(component string, ful *testbed.Fulcio, tsa *testbed.TSA, reg *testbed.Registry, iss *testbed.Issuer, trustedRoot string) string {
	lines := []string{"      # Added by the test: the testbed's Sigstore and registry."}
	if component == "promote" {
		lines = append(lines, "      verify-tlog: 'false'")
	} else {
		lines = append(lines, "      fulcio-url: "+ful.URL, "      timestamp-url: "+tsa.TimestampURL())
	}
	lines = append(lines, "      tlog: 'false'", "      insecure-registry: "+reg.Host, "      certificate-oidc-issuer: "+iss.GitLab, "      trusted-root: "+trustedRoot)
	return strings.Join(lines, "\n") + "\n"
}

// TestReadmePromoteSnippet runs the README's GitLab promotion pipeline as users copy it, after a
// build job that hands its digest over in a dotenv report, on a protected main branch whose
// protected, masked variables hold the promotion key (base64, as a masked variable must be)
// and its password. seal-sign-attest signs keyless; seal-promote verifies the image against
// this project's pipelines and signs the summary with the promotion key; seal verify then
// admits the image on the promotion key's summary alone. The same pipeline on an unprotected
// ref does not run the promotion job, and without the key variable (another project running
// this CI file) the promotion fails and signs nothing.
//
// What the test changes, as TestReadmeSnippets does: the release becomes this checkout, and
// lines appended to each include's inputs give the jobs the testbed's Sigstore and registry.
func TestReadmePromoteSnippet(t *testing.T) {
	gitlabCILocal(t)
	iss := testbed.StartIssuer(t)
	ful := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	trustedRoot := testbed.TrustedRoot(t, ful, tsa)
	sealDir := sealOnPath(t)
	const password = "promotion-readme-0123"
	priv, pubFile := promotionKey(t, password)

	snippet := testbed.DocSnippet(t, "../README.md", "gitlab-promote")
	if n := len(componentVersion.FindAllString(snippet, -1)); n != 2 {
		t.Fatalf("the snippet includes %d components, want 2 (seal, promote):\n%s", n, snippet)
	}
	var include strings.Builder
	parts := strings.Split(componentVersion.ReplaceAllString(snippet, "${1}@$$CI_COMMIT_SHA"), "  - component: ")
	include.WriteString(parts[0])
	for _, part := range parts[1:] {
		name := strings.TrimPrefix(strings.SplitN(part, "@", 2)[0], "$CI_SERVER_FQDN/sealsign/seal/")
		include.WriteString("  - component: " + strings.TrimRight(part, "\n") + "\n" + testbedInputs(name, ful, tsa, reg, iss, trustedRoot))
	}
	pipeline := `build:
  stage: build
  script:
    - echo "IMAGE_DIGEST=$PUSHED_DIGEST" > build.env
  artifacts:
    reports:
      dotenv: build.env

` + include.String()

	repo := reg.Repo("sealsign/seal")
	verified := func(image string) (string, error) {
		cmd := exec.Command(filepath.Join(sealDir, "seal"), "verify", "--key", pubFile, "--no-signature", "--attestation", "vsa", "--insecure-registry", reg.Host, image)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct {
		name      string
		protected bool
		key       bool
		pass      bool   // the pipeline passes
		promoted  bool   // the image carries the promotion key's summary
		want      string // in the pipeline's output
	}{
		{"protected", true, true, true, true, "PASS  seal-promote"},
		{"unprotected", false, true, true, false, ""},
		{"no-key", true, false, false, false, "SEAL_PROMOTION_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			digest := testbed.PushImage(t, repo+":"+tc.name)
			image := repo + "@" + digest
			p := newProject(t, pipeline, map[string]string{}, pinnedSealImage)
			claims := gitlabClaims(p.sha)
			claims["ref_protected"] = map[bool]string{true: "true", false: "false"}[tc.protected]
			vars := gitlabVariables(iss, claims)
			vars["CI_REGISTRY_IMAGE"] = repo
			vars["PUSHED_DIGEST"] = digest
			vars["CI_COMMIT_REF_PROTECTED"] = claims["ref_protected"].(string)
			if tc.key {
				vars["SEAL_PROMOTION_KEY"] = base64.StdEncoding.EncodeToString(priv)
				vars["COSIGN_PASSWORD"] = password
			}
			out, ok := p.run(t, sealDir, vars)
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "seal-promote") && (strings.Contains(l, "seal: error") || strings.Contains(l, "PASS") || strings.Contains(l, "FAIL") || strings.Contains(l, "wrote")) {
					t.Log(strings.TrimSpace(l))
				}
			}
			if ok != tc.pass {
				t.Fatalf("pipeline passed = %v, want %v:\n%s\nthe pipeline:\n%s", ok, tc.pass, out, pipeline)
			}
			if tc.want != "" && !strings.Contains(out, tc.want) {
				t.Errorf("the pipeline's output does not say %q:\n%s", tc.want, out)
			}
			if !tc.protected && strings.Contains(out, "seal-promote") {
				t.Errorf("seal-promote ran on an unprotected ref:\n%s", out)
			}
			vout, err := verified(image)
			if (err == nil) != tc.promoted {
				t.Errorf("seal verify on the promotion key's summary: %v, want promoted = %v:\n%s", err, tc.promoted, vout)
			}
		})
	}
}

// TestSealComponentPromote runs the seal component with promote: true, the promotion in the
// sign job itself: on a protected ref with the promotion key's protected variables, the job
// signs and attests keyless, then verifies the digest it signed against this project's
// pipelines and signs the summary with the promotion key; on an unprotected ref it does not
// promote.
func TestSealComponentPromote(t *testing.T) {
	gitlabCILocal(t)
	iss := testbed.StartIssuer(t)
	ful := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	trustedRoot := testbed.TrustedRoot(t, ful, tsa)
	sealDir := sealOnPath(t)
	const password = "promotion-component-0123"
	priv, pubFile := promotionKey(t, password)
	pipeline := `build:
  stage: build
  script:
    - echo "IMAGE_DIGEST=$PUSHED_DIGEST" > build.env
  artifacts:
    reports:
      dotenv: build.env

include:
  - component: $CI_SERVER_FQDN/sealsign/seal/seal@$CI_COMMIT_SHA
    inputs:
      image: $CI_REGISTRY_IMAGE@$IMAGE_DIGEST
      promote: true
      verify: 'false'
` + testbedInputs("seal", ful, tsa, reg, iss, trustedRoot)
	repo := reg.Repo("sealsign/seal")
	for _, protected := range []bool{true, false} {
		t.Run(map[bool]string{true: "protected", false: "unprotected"}[protected], func(t *testing.T) {
			digest := testbed.PushImage(t, repo+":"+map[bool]string{true: "p", false: "u"}[protected])
			image := repo + "@" + digest
			p := newProject(t, pipeline, map[string]string{}, pinnedSealImage)
			claims := gitlabClaims(p.sha)
			claims["ref_protected"] = map[bool]string{true: "true", false: "false"}[protected]
			vars := gitlabVariables(iss, claims)
			vars["CI_REGISTRY_IMAGE"] = repo
			vars["PUSHED_DIGEST"] = digest
			vars["CI_COMMIT_REF_PROTECTED"] = claims["ref_protected"].(string)
			vars["SEAL_PROMOTION_KEY"] = base64.StdEncoding.EncodeToString(priv)
			vars["COSIGN_PASSWORD"] = password
			out, ok := p.run(t, sealDir, vars)
			if !ok || !strings.Contains(out, "PASS  seal-sign-attest") {
				t.Fatalf("pipeline failed:\n%s\nthe pipeline:\n%s", out, pipeline)
			}
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "seal-sign-attest") && (strings.Contains(l, "attestation https://slsa.dev/verification_summary/v1") || strings.Contains(l, "command=\"seal promote")) {
					t.Log(strings.TrimSpace(l))
				}
			}
			cmd := exec.Command(filepath.Join(sealDir, "seal"), "verify", "--key", pubFile, "--no-signature", "--attestation", "vsa", "--insecure-registry", reg.Host, image)
			vout, err := cmd.CombinedOutput()
			if (err == nil) != protected {
				t.Errorf("seal verify on the promotion key's summary: %v, want promoted = %v:\n%s\npipeline:\n%s", err, protected, vout, out)
			}
		})
	}
}

// promotionKey makes the promotion signer's cosign key pair: the encrypted private key, and
// the public key in a file for seal verify.
func promotionKey(t *testing.T, password string) (priv []byte, pubFile string) {
	t.Helper()
	priv, pub, err := keys.Generate([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	pubFile = filepath.Join(t.TempDir(), "promotion.pub")
	if err := os.WriteFile(pubFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pubFile
}
