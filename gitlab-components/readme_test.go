package components

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/testbed"
)

// componentVersion is the release a snippet includes a component at (@<version>, @1.2.3).
var componentVersion = regexp.MustCompile(`(component: \$CI_SERVER_FQDN/sealsign/seal/[a-z]+)@\S+`)

// TestReadmeSnippets runs the GitLab CI snippet of the README, and the one of templates/README.md,
// as users copy them, after a build job that hands the digest it pushed over in a dotenv report
// (IMAGE_DIGEST), as the README says. Then cosign checks what the snippet's jobs wrote.
//
// What the test changes, and nothing else: the release the snippet includes (@<version>) becomes
// this checkout (@$CI_COMMIT_SHA, which gitlab-ci-local resolves to the copy of templates/),
// made what a release makes it (its seal-image pinned); CI_REGISTRY_IMAGE, which GitLab sets to
// the project's registry, names the testbed's; and lines appended after the snippet's last input
// give the jobs this testbed's Sigstore (Fulcio, timestamp authority, no transparency log), its
// plain-HTTP registry, and the verify job the trust in them, where a real pipeline uses the
// public instance and gitlab.com's issuer by default.
func TestReadmeSnippets(t *testing.T) {
	gitlabCILocal(t)
	iss := testbed.StartIssuer(t)
	ful := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	trustedRoot := testbed.TrustedRoot(t, ful, tsa)
	cosign3 := testbed.Bin(t, testbed.BinCosignV3)
	sealDir := sealOnPath(t)

	for name, doc := range map[string]string{"readme": "../README.md", "templates": "../templates/README.md"} {
		t.Run(name, func(t *testing.T) {
			snippet := testbed.DocSnippet(t, doc, "gitlab-ci")
			include := componentVersion.ReplaceAllString(snippet, "${1}@$$CI_COMMIT_SHA")
			if n := len(componentVersion.FindAllString(snippet, -1)); n != 1 {
				t.Fatalf("%s: the snippet includes %d components, want 1:\n%s", doc, n, snippet)
			}
			lines := strings.Split(strings.TrimRight(include, "\n"), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "      ") || strings.HasPrefix(last, "       ") {
				t.Fatalf("%s: the snippet's last line %q is not an input: the test cannot add the testbed's inputs after it", doc, last)
			}
			include += fmt.Sprintf(`      # Added by the test: the testbed's Sigstore and registry.
      fulcio-url: %s
      timestamp-url: %s
      tlog: 'false'
      insecure-registry: %s
      certificate-oidc-issuer: %s
      trusted-root: %s
`, ful.URL, tsa.TimestampURL(), reg.Host, iss.GitLab, trustedRoot)
			// The build job the README describes; the image is pushed before the pipeline runs.
			pipeline := `build:
  stage: build
  script:
    - echo "IMAGE_DIGEST=$PUSHED_DIGEST" > build.env
  artifacts:
    reports:
      dotenv: build.env

` + include
			repo := reg.Repo("sealsign/seal")
			digest := testbed.PushImage(t, repo+":"+name)
			image := repo + "@" + digest

			p := newProject(t, pipeline, map[string]string{}, pinnedSealImage)
			vars := gitlabVariables(iss, gitlabClaims(p.sha))
			vars["CI_REGISTRY_IMAGE"] = repo
			vars["PUSHED_DIGEST"] = digest
			out, ok := p.run(t, sealDir, vars)
			if !ok {
				t.Fatalf("pipeline failed:\n%s\nthe pipeline:\n%s", out, pipeline)
			}
			for _, job := range []string{"build", "seal-sign-attest", "seal-verify"} {
				if !strings.Contains(out, "PASS  "+job) {
					t.Errorf("job %s did not pass:\n%s", job, out)
				}
			}
			env := readDotenv(t, filepath.Join(p.dir, ".gitlab-ci-local", "artifacts", "seal-sign-attest", "seal", "seal.env"))
			if env["SEAL_IMAGE"] != image {
				t.Errorf("seal-sign-attest signed %q, want the build job's image %s", env["SEAL_IMAGE"], image)
			}

			keyless := []string{"--certificate-identity", identity, "--certificate-oidc-issuer", iss.GitLab,
				"--trusted-root", trustedRoot, "--insecure-ignore-tlog=true", "--insecure-ignore-sct=true"}
			cenv := []string{"TUF_ROOT=" + t.TempDir()}
			runCmd(t, cenv, cosign3, append([]string{"verify", image}, keyless...)...)
			runCmd(t, cenv, cosign3, append([]string{"verify-attestation", "--type", "slsaprovenance1", image}, keyless...)...)
		})
	}
}
