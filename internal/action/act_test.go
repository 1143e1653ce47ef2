package action

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/testbed"
)

// The repository, workflow and commit the act job runs as. act takes the repository from the
// origin remote, the ref and commit from the push event, the workflow's name from the file.
const (
	actRepository = "sealsign/seal"
	actWorkflow   = ".github/workflows/act-selftest.yml"
	actRef        = "refs/heads/main"
)

// setupGoPin is the actions/setup-go the composite actions name.
const setupGoPin = "actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5"

// TestActWorkflow runs a release workflow of this repository (testdata/act-selftest.yml) with
// a real third-party runner instead of this package's imitation of one: nektos/act in host
// mode (no Docker), offline. The workflow signs an image and attests its provenance and SBOM
// with the root action (`uses: ./`), hands the step's outputs to later steps, runs the verify
// command the action printed and the verify sub-action. The job signs keyless: its OIDC token
// comes from an Actions-shaped token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN), its
// certificate from the testbed's Fulcio, its timestamps from a real timestamp authority, and
// it pushes to a real registry (CNCF distribution). Afterwards cosign v3 and v2 and the seal
// binary the job built check the result with the commands of the job summary.
func TestActWorkflow(t *testing.T) {
	wf, err := os.ReadFile(filepath.Join("testdata", "act-selftest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	j := newActJob(t, actWorkflow, "act-selftest", func(*actJob) []byte { return wf })
	cosign3 := testbed.Bin(t, testbed.BinCosignV3)
	cosign2 := testbed.Bin(t, testbed.BinCosign)
	iss, reg, trustedRoot, api := j.iss, j.reg, j.trustedRoot, j.api
	idToken, requestToken, githubToken := j.idToken, j.requestToken, j.githubToken
	workflowRef := j.claim("workflow_ref")
	digest := pushImage(t, reg, "sealsign/app", "v1")
	image := reg.Repo("sealsign/app") + "@" + digest

	out := t.TempDir() // where the workflow's steps leave what the test checks
	log := j.run(t, map[string]string{
		"IMAGE": reg.Repo("sealsign/app"), "DIGEST": digest, "SBOM": spdxSBOM,
		"REGISTRY": reg.Host, "FULCIO_URL": j.ful.URL, "TIMESTAMP_URL": j.tsa.TimestampURL(),
		"OIDC_ISSUER": iss.GitHub, "TRUSTED_ROOT": trustedRoot, "OUT": out,
	})

	// No secret in the log: the ID token is masked by Seal (::add-mask::), which act turns into
	// ***; the request token and the job's token never show.
	checkNoSecrets(t, "act log", log, idToken, requestToken, githubToken)
	if !strings.Contains(log, "⚙  ***") {
		t.Errorf("act's log shows no ::add-mask:: command (***): Seal did not mask the identity token")
	}
	if strings.Contains(log, "::add-mask::") {
		t.Errorf("act printed an ::add-mask:: command instead of consuming it")
	}

	// setup-go stayed skipped: Go is on PATH.
	if _, err := os.Stat(j.setupGoRan); err == nil {
		t.Errorf("actions/setup-go ran although Go was on PATH")
	}

	// Outputs, through GITHUB_OUTPUT and `${{ steps.seal.outputs.* }}`, reached later steps,
	// whose `if:` read them.
	b, err := os.ReadFile(filepath.Join(out, "outputs.txt"))
	if err != nil {
		t.Fatalf("the step that reads the outputs did not run: %v", err)
	}
	outputs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		outputs[k] = v
	}
	t.Logf("outputs seen by later steps: %v", outputs)
	if outputs["digest"] != digest || outputs["image"] != image {
		t.Errorf("outputs digest %q, image %q; want %s and %s", outputs["digest"], outputs["image"], digest, image)
	}
	if want := "--github-repo " + actRepository + " --github-workflow act-selftest.yml --ref " + actRef + " --certificate-oidc-issuer " + iss.GitHub; !strings.Contains(outputs["verify-command"], want) {
		t.Errorf("output verify-command = %q, want it pinned with %s", outputs["verify-command"], want)
	}
	if p := outputs["seal-path"]; p == "" || outputs["seal-on-path"] != p {
		t.Errorf("seal on PATH (GITHUB_PATH) is %q, output seal-path %q: want the same binary", outputs["seal-on-path"], p)
	}
	if outputs["verified"] != "true" {
		t.Errorf("the verify sub-action's output verified did not reach the last step's if:")
	}
	if _, err := os.Stat(filepath.Join(out, "skipped-step-ran")); err == nil {
		t.Errorf("a step ran whose if: was false")
	}
	if !regexp.MustCompile(`Success - Main The printed verify command, as a user copies it`).MatchString(log) {
		t.Errorf("the verify command the action printed did not succeed in the job")
	}

	// The job summaries (GITHUB_STEP_SUMMARY) of the two Seal steps, as act reports them.
	summaries := actSummaries(log)
	if len(summaries) != 2 {
		t.Errorf("act reported %d step summaries, want 2 (the root action's and the verify sub-action's)", len(summaries))
	}
	summary := strings.Join(summaries, "")
	t.Logf("summaries:\n%s", summary)
	identity := "https://github.com/" + workflowRef
	for _, want := range []string{image, identity, iss.GitHub, "https://slsa.dev/provenance/v1", "https://spdx.dev/Document", "cosign verify", "seal verify", "attestations/4242", "verified"} {
		if !strings.Contains(summary, want) {
			t.Errorf("job summary does not mention %q", want)
		}
	}
	checkNoSecrets(t, "summary", summary, idToken, requestToken, githubToken)

	// GitHub's attestations: provenance and SBOM, with the job's token.
	if len(api.bundles) != 2 {
		t.Errorf("stored %d attestations in GitHub, want 2 (provenance, SBOM)", len(api.bundles))
	}
	for _, a := range api.auth {
		if a != "Bearer "+githubToken {
			t.Errorf("attestations API got Authorization %q, want the job's token", a)
		}
	}
	// The storage record the root action writes after pushing (by default, since the
	// attestations went to GitHub), then the deployment record of the verify sub-action.
	owner := strings.Split(actRepository, "/")[0]
	wantRecords := []metadataRequest{
		{"/orgs/" + owner + "/artifacts/metadata/storage-record", "Bearer " + githubToken, "2022-11-28", map[string]any{
			"name": reg.Repo("sealsign/app"), "digest": digest, "registry_url": "http://" + reg.Host,
			"repository": "sealsign/app", "status": "active",
		}},
		{"/orgs/" + owner + "/artifacts/metadata/deployment-record", "Bearer " + githubToken, "2022-11-28", map[string]any{
			"name": reg.Repo("sealsign/app"), "digest": digest, "status": "deployed", "logical_environment": "staging",
			"deployment_name": "app", "return_records": true,
		}},
	}
	if diff := cmp.Diff(wantRecords, api.records); diff != "" {
		t.Errorf("artifact metadata requests (-want +got):\n%s", diff)
	}
	if outputs["storage-record-ids"] != "9001" || outputs["deployment-record-ids"] != "9002" {
		t.Errorf("outputs storage-record-ids %q, deployment-record-ids %q; want 9001 and 9002", outputs["storage-record-ids"], outputs["deployment-record-ids"])
	}

	// The summary's commands, run by cosign v3 and v2 and by the seal binary the job built.
	cmds := summaryCommands(t, summary)
	if len(cmds) != 7 {
		t.Fatalf("summary has %d commands, want 7 (seal verify; cosign verify, verify-attestation x2, for the bundles and again for the legacy tags):\n%s", len(cmds), summary)
	}
	env := []string{"TUF_ROOT=" + t.TempDir()}
	seal := filepath.Join(out, "seal")
	for _, c := range cmds {
		c = replaceArg(c, TrustedRootPlaceholder, trustedRoot)
		switch c[0] {
		case "cosign":
			runCmd(t, env, cosign3, c[1:]...)
			runCmd(t, env, cosign2, c[1:]...)
		case "seal":
			runCmd(t, env, seal, append(c[1:], "--insecure-registry", reg.Host)...)
		default:
			t.Errorf("unexpected command %q in the summary", c)
		}
	}
	// The token said self-hosted, and so does the certificate: a policy for hosted runners
	// refuses what act signed.
	cmd := exec.Command(seal, "verify", image, "--github-repo", actRepository, "--hosted-runners-only",
		"--certificate-oidc-issuer", iss.GitHub, "--trusted-root", trustedRoot, "--no-tlog", "--insecure-registry", reg.Host)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("seal verify --hosted-runners-only accepted an image signed on a self-hosted runner:\n%s", b)
	}
}

// actJob is a workflow of a copy of this repository, run by act on this machine against the
// testbed: its registry, Fulcio and timestamp authority, an Actions-shaped OIDC token endpoint
// (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN) and GitHub's attestations API.
//
// The token's claims describe the job act runs, and what act does not put into the
// environment (GITHUB_WORKFLOW_REF and the other variables Seal binds to claims) is given to
// it with --env, as GitHub's runner sets them: Seal's check that the environment agrees with
// the token stays as it is.
type actJob struct {
	act, dir, workflow string
	iss                *testbed.Issuer
	ful                *testbed.Fulcio
	tsa                *testbed.TSA
	reg                *testbed.Registry
	trustedRoot        string
	claims             map[string]any
	idToken            string
	requestToken       string
	githubToken        string
	tokens             *httptest.Server
	api                *attestationsAPI
	// localRepos maps remote actions (OWNER/REPO@REF) to directories act uses instead, offline.
	localRepos map[string]string
	// setupGoRan exists once the stand-in for actions/setup-go ran.
	setupGoRan string
	// secrets are the workflow's secrets besides GITHUB_TOKEN.
	secrets map[string]string
}

// newActJob starts the testbed and makes the checkout, with the workflow named name at path
// (.github/workflows/NAME.yml); workflow returns its content, which may name the testbed's
// peers.
func newActJob(t *testing.T, path, name string, workflow func(*actJob) []byte) *actJob {
	t.Helper()
	j := &actJob{act: testbed.Bin(t, testbed.BinAct), workflow: path}
	for _, tool := range []string{"go", "git", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			// Without Go on PATH the action would run actions/setup-go, which act cannot fetch offline.
			t.Skipf("the act job builds seal from source and needs %s on PATH", tool)
		}
	}
	j.iss = testbed.StartIssuer(t)
	j.ful = testbed.StartFulcio(t, j.iss)
	j.tsa = testbed.StartTSA(t)
	j.reg = testbed.StartRegistry(t, testbed.Distribution)
	j.trustedRoot = testbed.TrustedRoot(t, j.ful, j.tsa)

	var sha string
	j.dir, sha = actCheckout(t, path, workflow(j))
	workflowRef := actRepository + "/" + path + "@" + actRef
	j.claims = testbed.GitHubClaimsWith(actRepository, map[string]any{
		"sub": "repo:" + actRepository + ":ref:" + actRef,
		"sha": sha, "workflow_sha": sha, "job_workflow_sha": sha,
		"workflow": name, "workflow_ref": workflowRef, "job_workflow_ref": workflowRef,
		// act runs steps on this machine: a self-hosted runner, as GitHub would call it.
		"runner_environment": "self-hosted",
	})
	j.idToken = j.iss.Mint(j.iss.GitHub, j.claims)
	j.requestToken = "PLANTED-act-request-token-0123456789"
	j.githubToken = "ghs_PLANTEDactjobtoken0123456789abcdef"
	j.tokens = tokenServer(t, j.idToken, j.requestToken)
	j.api = startAttestationsAPI(t, actRepository)
	standIn, setupGoRan := setupGoStandIn(t)
	j.localRepos = map[string]string{setupGoPin: standIn}
	j.setupGoRan = setupGoRan
	return j
}

func (j *actJob) claim(k string) string { v, _ := j.claims[k].(string); return v }

// sha is the commit of the checkout.
func (j *actJob) sha() string { return j.claim("sha") }

// run runs the workflow's push event with vars as its vars.* and returns act's log; the test
// fails unless the job succeeded.
func (j *actJob) run(t *testing.T, vars map[string]string) string {
	t.Helper()
	// The push event GitHub would deliver; act takes GITHUB_REF and GITHUB_SHA from it, and
	// Seal the repository's visibility.
	event := filepath.Join(t.TempDir(), "event.json")
	ev, err := json.Marshal(map[string]any{
		"ref": actRef, "before": strings.Repeat("0", 40), "after": j.sha(), "created": false, "deleted": false, "forced": false,
		"repository": map[string]any{
			"full_name": actRepository, "name": "seal", "owner": map[string]any{"login": j.claim("repository_owner")},
			"private": false, "visibility": j.claim("repository_visibility"), "default_branch": "main",
		},
		"pusher": map[string]any{"name": j.claim("actor")}, "sender": map[string]any{"login": j.claim("actor")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(event, ev, 0o644); err != nil {
		t.Fatal(err)
	}

	args := []string{
		"push", "-W", j.workflow, "-e", event,
		"-P", "ubuntu-latest=-self-hosted", // host mode: steps run on this machine, no Docker
		"--action-cache-path", t.TempDir(), "--action-offline-mode", "--no-cache-server",
		"--actor", j.claim("actor"),
		"-s", "GITHUB_TOKEN=" + j.githubToken,
	}
	for uses, dir := range j.localRepos {
		args = append(args, "--local-repository", uses+"="+dir)
	}
	for k, v := range j.secrets {
		args = append(args, "-s", k+"="+v)
	}
	for k, v := range map[string]string{
		// The runner's OIDC endpoint, as for a job with id-token: write.
		"ACTIONS_ID_TOKEN_REQUEST_URL":   j.tokens.URL + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": j.requestToken,
		"GITHUB_API_URL":                 j.api.URL,
		// What GitHub's runner sets and act does not (act sets GITHUB_RUN_* to 1 unless given).
		"GITHUB_WORKFLOW_REF":        j.claim("workflow_ref"),
		"GITHUB_WORKFLOW_SHA":        j.claim("workflow_sha"),
		"GITHUB_REPOSITORY_ID":       j.claim("repository_id"),
		"GITHUB_REPOSITORY_OWNER_ID": j.claim("repository_owner_id"),
		"GITHUB_RUN_ID":              j.claim("run_id"),
		"GITHUB_RUN_NUMBER":          j.claim("run_number"),
		"GITHUB_RUN_ATTEMPT":         j.claim("run_attempt"),
		"RUNNER_ENVIRONMENT":         j.claim("runner_environment"),
	} {
		args = append(args, "--env", k+"="+v)
	}
	for k, v := range vars {
		args = append(args, "--var", k+"="+v)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, j.act, args...)
	cmd.Dir = j.dir
	cmd.Env = actEnv(t)
	var logBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	start := time.Now()
	err = cmd.Run()
	log := logBuf.String()
	t.Logf("act %s in %s: %v", strings.Join(args[:3], " "), time.Since(start).Round(time.Millisecond), err)
	if err != nil || !strings.Contains(log, "Job succeeded") {
		t.Fatalf("act: %v\n%s", err, log)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("act's log:\n%s", log)
		}
	})
	return log
}

// actCheckout copies this repository's files (tracked and untracked, not ignored) into a new
// git repository whose origin is github.com/sealsign/seal, adds the workflow at path, commits
// on main and returns the directory and the commit.
func actCheckout(t *testing.T, path string, workflow []byte) (string, string) {
	t.Helper()
	root := repoRoot(t)
	list, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dir := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // deleted in the working tree
		}
		fi, err := os.Stat(filepath.Join(root, f))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, path), workflow, 0o644); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=Seal test", "-c", "user.email=test@seal.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return strings.TrimSpace(string(b))
	}
	git("init", "-q", "-b", "main")
	git("remote", "add", "origin", "https://github.com/"+actRepository+".git")
	git("add", "-A")
	git("commit", "-q", "-m", "act-selftest")
	return dir, git("rev-parse", "HEAD")
}

// actEnv is act's own environment, which host mode hands to every step: the test's, without
// anything of a CI job around the test, with a home and caches of its own, Go's caches shared
// (the job builds seal from source), and nothing reachable outside this machine.
func actEnv(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "GITHUB_"), strings.HasPrefix(k, "ACTIONS_"), strings.HasPrefix(k, "RUNNER_"),
			strings.HasPrefix(k, "GITLAB_"), strings.HasPrefix(k, "CI_"), strings.HasPrefix(k, "INPUT_"),
			strings.HasPrefix(k, "COSIGN_"), strings.HasPrefix(k, "SIGSTORE_"), strings.HasPrefix(k, "ACT_"),
			k == "CI", k == "HOME", k == "XDG_CACHE_HOME", k == "XDG_CONFIG_HOME",
			strings.HasSuffix(strings.ToUpper(k), "_PROXY"):
			continue
		}
		env = append(env, kv)
	}
	goEnv, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	g := strings.Split(strings.TrimSpace(string(goEnv)), "\n")
	if len(g) != 3 {
		t.Fatalf("go env printed %q", goEnv)
	}
	home := t.TempDir()
	return append(env,
		"HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"GOCACHE="+g[0], "GOMODCACHE="+g[1], "GOPATH="+g[2], "GOPROXY=off",
		"ACT_DISABLE_VERSION_CHECK=1",
		// Anything that tries to leave the machine fails at once (loopback is never proxied).
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost",
		// Nothing may reach the public Sigstore TUF repository.
		"TUF_ROOT="+t.TempDir(),
	)
}

// setupGoStandIn is what act gets for actions/setup-go: act fetches a composite action's
// remote actions before it evaluates their if:, even when it is false, and offline it cannot.
// The stand-in fails the job and leaves a marker if it ever runs.
func setupGoStandIn(t *testing.T) (dir, marker string) {
	t.Helper()
	marker = filepath.Join(t.TempDir(), "setup-go-ran")
	return standInAction(t, fmt.Sprintf(`name: setup-go stand-in
description: Fails if it runs; the action skips setup-go when Go is on PATH.
inputs:
  go-version-file:
    description: unused
  cache:
    description: unused
runs:
  using: composite
  steps:
    - shell: bash
      run: touch %q; echo "::error::actions/setup-go ran"; exit 1
`, marker), nil), marker
}

// actSummaries returns the step summaries act logs ("⚙  Summary - ", then the content's
// further lines as they are). act gives every step of a job the same GITHUB_STEP_SUMMARY
// file, emptied when a step starts and read when it ends; an action's composite step starts
// before its inner steps and ends after them, so act reads the last inner step's summary
// again and logs it a second time for the `uses:` step. GitHub's runner gives each step a
// file of its own. That repetition is dropped here.
func actSummaries(log string) []string {
	var out []string
	lines := strings.Split(log, "\n")
	for i := 0; i < len(lines); i++ {
		_, rest, ok := strings.Cut(lines[i], "⚙  Summary - ")
		if !ok {
			continue
		}
		var b strings.Builder
		b.WriteString(rest + "\n")
		for i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "[") {
			i++
			b.WriteString(lines[i] + "\n")
		}
		if n := len(out); n > 0 && out[n-1] == b.String() {
			continue
		}
		out = append(out, b.String())
	}
	return out
}
