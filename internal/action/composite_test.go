package action

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/testbed"
)

// toolCache is the runner's tool cache, shared by every action run of this test binary as a
// self-hosted runner's outlives its jobs. Source builds of seal do not use it (they run on every
// use, in seconds with Go's build cache).
var toolCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "seal-toolcache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	toolCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the checkout: the root action.yml lives there.
func repoRoot(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "action.yml")); err != nil {
		t.Fatalf("no action.yml at the repository root: %v", err)
	}
	return d
}

// githubJob is a job of repository acme/app as GitHub Actions describes it in the
// environment, agreeing with testbed.GitHubClaims (Seal refuses a job whose environment
// disagrees with its token).
func githubJob(t *testing.T, claims map[string]any, extra map[string]string) *runnerJob {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("composite actions run bash steps; no bash here")
	}
	ws := t.TempDir()
	event := filepath.Join(t.TempDir(), "event.json")
	ev := fmt.Sprintf(`{"repository":{"full_name":%q,"visibility":%q}}`, claims["repository"], claims["repository_visibility"])
	if err := os.WriteFile(event, []byte(ev), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "GITHUB_"), strings.HasPrefix(k, "ACTIONS_"), strings.HasPrefix(k, "RUNNER_"),
			strings.HasPrefix(k, "GITLAB_"), strings.HasPrefix(k, "CI_"), strings.HasPrefix(k, "INPUT_"),
			strings.HasPrefix(k, "COSIGN_"), strings.HasPrefix(k, "SIGSTORE_"), k == "CI":
			continue
		}
		env[k] = v
	}
	s := func(k string) string { v, _ := claims[k].(string); return v }
	// Unless the test serves GitHub's API, it answers 404 to everything, as GitHub does for a
	// repository without attestations or artifact metadata: fast refusals, not retried.
	noAPI := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(noAPI.Close)
	for k, v := range map[string]string{
		"CI": "true", "GITHUB_ACTIONS": "true",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_API_URL": noAPI.URL,
		"GITHUB_REPOSITORY": s("repository"), "GITHUB_REPOSITORY_ID": s("repository_id"),
		"GITHUB_REPOSITORY_OWNER": s("repository_owner"), "GITHUB_REPOSITORY_OWNER_ID": s("repository_owner_id"),
		"GITHUB_SHA": s("sha"), "GITHUB_REF": s("ref"), "GITHUB_REF_TYPE": s("ref_type"),
		"GITHUB_WORKFLOW": s("workflow"), "GITHUB_WORKFLOW_REF": s("workflow_ref"), "GITHUB_WORKFLOW_SHA": s("workflow_sha"),
		"GITHUB_RUN_ID": s("run_id"), "GITHUB_RUN_NUMBER": s("run_number"), "GITHUB_RUN_ATTEMPT": s("run_attempt"),
		"GITHUB_EVENT_NAME": s("event_name"), "GITHUB_EVENT_PATH": event, "GITHUB_ACTOR": s("actor"),
		"GITHUB_JOB": "release", "GITHUB_WORKSPACE": ws,
		"RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_ENVIRONMENT": s("runner_environment"),
		"RUNNER_TEMP": t.TempDir(), "RUNNER_TOOL_CACHE": toolCache,
		// Nothing may reach the public Sigstore TUF repository.
		"TUF_ROOT": t.TempDir(),
	} {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	gh := map[string]string{
		"token": "ghs_JOBTOKENjobtoken0123456789abcdef", "repository": s("repository"),
		"action_repository": "sealsign/seal", "server_url": "https://github.com",
	}
	return &runnerJob{Env: env, Github: gh, Workspace: ws}
}

// tokenServer is the Actions OIDC endpoint: it answers GET ?audience=A with the bearer
// request token by {"value": token}.
func tokenServer(t *testing.T, token, requestToken string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+requestToken {
			http.Error(w, "bad request token", http.StatusUnauthorized)
			return
		}
		if got := r.URL.Query().Get("audience"); got != "sigstore" {
			http.Error(w, "audience "+got, http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"value": token})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// attestationsAPI stands in for POST /repos/OWNER/REPO/attestations and for the artifact
// metadata endpoints of OWNER: POST /orgs/OWNER/artifacts/metadata/storage-record and
// .../deployment-record, whose requests it keeps with their headers.
type attestationsAPI struct {
	*httptest.Server
	mu      sync.Mutex
	bundles []json.RawMessage
	auth    []string
	// records are the artifact metadata requests, in order.
	records []metadataRequest
}

// metadataRequest is one request to an artifact metadata endpoint.
type metadataRequest struct {
	Path, Auth, APIVersion string
	Body                   map[string]any
}

func startAttestationsAPI(t *testing.T, repo string) *attestationsAPI {
	t.Helper()
	a := &attestationsAPI{}
	owner, _, _ := strings.Cut(repo, "/")
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if kind, ok := strings.CutPrefix(r.URL.Path, "/orgs/"+owner+"/artifacts/metadata/"); ok && r.Method == http.MethodPost &&
			(kind == "storage-record" || kind == "deployment-record") {
			var body map[string]any
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				http.Error(w, "not JSON", http.StatusBadRequest)
				return
			}
			a.mu.Lock()
			a.records = append(a.records, metadataRequest{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-GitHub-Api-Version"), body})
			id := 9000 + len(a.records)
			a.mu.Unlock()
			fmt.Fprintf(w, `{"total_count":1,"storage_records":[{"id":%d}],"deployment_records":[{"id":%d}]}`, id, id)
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/repos/"+repo+"/attestations" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var body struct {
			Bundle json.RawMessage `json:"bundle"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Bundle) == 0 {
			http.Error(w, "no bundle", http.StatusUnprocessableEntity)
			return
		}
		a.mu.Lock()
		a.bundles = append(a.bundles, body.Bundle)
		a.auth = append(a.auth, r.Header.Get("Authorization"))
		id := 4241 + len(a.bundles)
		a.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id": %d}`, id)
	}))
	t.Cleanup(a.Close)
	return a
}

const spdxSBOM = `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app","dataLicense":"CC0-1.0",
"documentNamespace":"https://example.com/spdx/app","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: syft"]},
"packages":[{"name":"express","SPDXID":"SPDXRef-Package-express","versionInfo":"4.21.2","downloadLocation":"NOASSERTION"}]}`

// summaryCommands returns the commands of the summary's ```sh blocks, split into words.
func summaryCommands(t *testing.T, summary string) [][]string {
	t.Helper()
	var out [][]string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(summary, -1) {
		for _, line := range strings.Split(strings.TrimSpace(block[1]), "\n") {
			out = append(out, shellSplit(t, line))
		}
	}
	return out
}

// shellSplit undoes shellJoin: words separated by spaces, single-quoted words, and the
// backslash-escaped quote shellJoin writes for a quote inside one.
func shellSplit(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			if strings.IndexByte("\"$`!*?[]{}()<>|&;#~", c) >= 0 {
				t.Fatalf("summary command %q has an unquoted %q", line, c)
			}
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("summary command %q: unterminated quote", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// replaceArg swaps a placeholder argument for the real file.
func replaceArg(args []string, from, to string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if a == from {
			out[i] = to
		}
	}
	return out
}

func runCmd(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkNoSecrets fails when a secret shows anywhere but in the ::add-mask:: command that hides
// it, which the runner consumes.
func checkNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "::add-mask::") {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("%s leaks a secret: %q", what, line)
			}
		}
	}
}

// TestActionKeyless runs the root action (sign, provenance, SBOM) keyless as a GitHub job
// would: the OIDC token from the Actions endpoint, Fulcio and a TSA for certificate and
// timestamps, a registry with the referrers API. It checks outputs, the job summary and the
// attestations stored in GitHub, then runs the summary's own verify commands with cosign v3
// and v2, and the verify sub-action.
func TestActionKeyless(t *testing.T) {
	iss := testbed.StartIssuer(t)
	ful := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	reg := testbed.StartRegistry(t, testbed.Olareg)
	trustedRoot := testbed.TrustedRoot(t, ful, tsa)
	cosign3 := testbed.Bin(t, testbed.BinCosignV3)
	cosign2 := testbed.Bin(t, testbed.BinCosign)
	digest := pushImage(t, reg, "acme/app", "v1")
	image := reg.Repo("acme/app") + "@" + digest

	claims := testbed.GitHubClaims("acme/app")
	idToken := iss.Mint(iss.GitHub, claims)
	const requestToken = "PLANTED-request-token-0123456789"
	tokens := tokenServer(t, idToken, requestToken)
	api := startAttestationsAPI(t, "acme/app")
	job := githubJob(t, claims, map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   tokens.URL + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": requestToken,
		"GITHUB_API_URL":                 api.URL,
	})
	if err := os.WriteFile(filepath.Join(job.Workspace, "sbom.spdx.json"), []byte(spdxSBOM), 0o644); err != nil {
		t.Fatal(err)
	}
	const githubToken = "ghs_PLANTEDgithubtoken0123456789abcdef"

	res := job.run(t, repoRoot(t), map[string]string{
		// As docker/metadata-action and docker/build-push-action hand them over.
		"image":             reg.Repo("acme/app") + ":v1",
		"digest":            digest,
		"sbom":              "sbom.spdx.json",
		"fulcio-url":        ful.URL,
		"timestamp-url":     tsa.TimestampURL(),
		"tlog":              "false",
		"insecure-registry": reg.Host,
		"github-token":      githubToken,
	})
	if res.Failed != "" {
		t.Fatalf("step %s failed:\n%s", res.Failed, res.Log)
	}
	// With no pinned release the action builds from source, with the Go on PATH (the one running
	// this test satisfies go.mod): actions/setup-go must not replace the job's Go.
	if len(res.Uses) != 0 {
		t.Errorf("with a Go on PATH that satisfies go.mod the action must build with it; it ran %v", res.Uses)
	}

	identity := "https://github.com/" + claims["job_workflow_ref"].(string)
	if got := res.Outputs["digest"]; got != digest {
		t.Errorf("output digest = %q, want %q", got, digest)
	}
	if got := res.Outputs["image"]; got != image {
		t.Errorf("output image = %q, want %q", got, image)
	}
	if got := res.Outputs["bundle-path"]; !strings.HasSuffix(got, ".provenance.sigstore.json") {
		t.Errorf("output bundle-path = %q, want the provenance bundle", got)
	}
	if n := len(strings.Split(res.Outputs["bundle-paths"], "\n")); n != 3 {
		t.Errorf("output bundle-paths lists %d bundles, want 3 (signature, provenance, SBOM):\n%s", n, res.Outputs["bundle-paths"])
	}
	if got, want := res.Outputs["attestation-url"], "https://github.com/acme/app/attestations/4242"; got != want {
		t.Errorf("output attestation-url = %q, want %q (the provenance, stored first)", got, want)
	}
	if got := res.Outputs["seal-path"]; !strings.HasPrefix(got, job.Env["RUNNER_TEMP"]) {
		t.Errorf("output seal-path = %q, want a binary in the job's own directory under %s", got, job.Env["RUNNER_TEMP"])
	}
	// Pinned by the repository the job ran for, its workflow and ref: not only by the subject,
	// which every caller of a reusable workflow shares.
	if want := "--github-repo acme/app --github-workflow release.yml --ref refs/heads/main --certificate-oidc-issuer " + iss.GitHub; !strings.Contains(res.Outputs["verify-command"], want) {
		t.Errorf("output verify-command = %q, want it pinned with %s", res.Outputs["verify-command"], want)
	}

	t.Logf("summary:\n%s", res.Summary)
	// GitHub's attestations: provenance and SBOM, with the step's token.
	if len(api.bundles) != 2 {
		t.Errorf("stored %d attestations in GitHub, want 2 (provenance, SBOM)", len(api.bundles))
	}
	for _, a := range api.auth {
		if a != "Bearer "+githubToken {
			t.Errorf("attestations API got Authorization %q, want the github-token input", a)
		}
	}

	// The storage record of the pushed image, as actions/attest writes it after pushing: on by
	// default, since the attestations went to GitHub.
	wantRecord := []metadataRequest{{"/orgs/acme/artifacts/metadata/storage-record", "Bearer " + githubToken, "2022-11-28", map[string]any{
		"name": reg.Repo("acme/app"), "digest": digest, "registry_url": "http://" + reg.Host,
		"repository": "acme/app", "status": "active",
	}}}
	if diff := cmp.Diff(wantRecord, api.records); diff != "" {
		t.Errorf("artifact metadata requests (-want +got):\n%s", diff)
	}
	if got := res.Outputs["storage-record-ids"]; got != "9001" {
		t.Errorf("output storage-record-ids = %q, want 9001", got)
	}

	for _, want := range []string{image, identity, iss.GitHub, "https://slsa.dev/provenance/v1", "https://spdx.dev/Document", "cosign verify", "seal verify", "attestations/4242", "storage record `9001`"} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("job summary does not mention %q:\n%s", want, res.Summary)
		}
	}
	for what, text := range map[string]string{"log": res.Log, "summary": res.Summary, "outputs": fmt.Sprint(res.Outputs)} {
		checkNoSecrets(t, what, text, idToken, requestToken, githubToken)
	}
	if !strings.Contains(res.Log, "::add-mask::"+idToken) {
		t.Errorf("the identity token was not masked in the log")
	}

	// The summary's commands, as a user copies them, with the testbed's trusted root in place
	// of the placeholder.
	cmds := summaryCommands(t, res.Summary)
	if len(cmds) != 7 {
		t.Fatalf("summary has %d commands, want 7 (seal verify; cosign verify, verify-attestation x2, for the bundles and again for the legacy tags):\n%s", len(cmds), res.Summary)
	}
	env := []string{"TUF_ROOT=" + t.TempDir()}
	for _, c := range cmds {
		c = replaceArg(c, TrustedRootPlaceholder, trustedRoot)
		switch c[0] {
		case "cosign":
			runCmd(t, env, cosign3, c[1:]...)
			runCmd(t, env, cosign2, c[1:]...)
		case "seal":
			runCmd(t, env, res.Outputs["seal-path"], append(c[1:], "--insecure-registry", reg.Host)...)
		default:
			t.Errorf("unexpected command %q in the summary", c)
		}
	}

	// A bundle file verifies on its own too (as gh attestation verify --bundle would use it).
	id, tlog, err := BundleInfo(res.Outputs["bundle-path"])
	if err != nil {
		t.Fatalf("BundleInfo() = %v", err)
	}
	if id.Subject != identity || id.Issuer != iss.GitHub || tlog || id.SCT {
		t.Errorf("BundleInfo() = %+v, tlog %v; want %s from %s, no tlog, no SCT", id, tlog, identity, iss.GitHub)
	}

	// Files (subject-path), and the image attested without pushing (push-to-registry: false):
	// bundle files only, checked with the summaries' verify-blob-attestation commands.
	if err := os.MkdirAll(filepath.Join(job.Workspace, "dist"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"app-linux-amd64.tar.gz", "app-linux-arm64.tar.gz"} {
		if err := os.WriteFile(filepath.Join(job.Workspace, "dist", f), []byte("release "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sigstoreInputs := map[string]string{"fulcio-url": ful.URL, "timestamp-url": tsa.TimestampURL(), "tlog": "false", "github-token": githubToken}
	with := func(m map[string]string) map[string]string {
		for k, v := range sigstoreInputs {
			m[k] = v
		}
		return m
	}
	fres := job.run(t, filepath.Join(repoRoot(t), "actions", "provenance"), with(map[string]string{"subject-path": "dist/*.tar.gz"}))
	ores := job.run(t, filepath.Join(repoRoot(t), "actions", "attest"), with(map[string]string{
		"image": image, "push-to-registry": "false", "provenance": "true", "sbom": "sbom.spdx.json",
	}))
	for name, r := range map[string]*runResult{"files": fres, "no push": ores} {
		if r.Failed != "" {
			t.Fatalf("%s: step %s failed:\n%s", name, r.Failed, r.Log)
		}
		if n := len(strings.Split(r.Outputs["bundle-paths"], "\n")); n != 2 {
			t.Errorf("%s: %d bundles, want 2:\n%s", name, n, r.Outputs["bundle-paths"])
		}
		cmds := summaryCommands(t, r.Summary)
		if len(cmds) != 2 {
			t.Errorf("%s: %d commands in the summary, want 2:\n%s", name, len(cmds), r.Summary)
		}
		for _, c := range cmds {
			if c[0] != "cosign" || c[1] != "verify-blob-attestation" {
				t.Errorf("%s: unexpected command %q", name, c)
				continue
			}
			cmd := exec.Command(cosign3, replaceArg(c, TrustedRootPlaceholder, trustedRoot)[1:]...)
			cmd.Dir = job.Workspace
			cmd.Env = append(os.Environ(), env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %s: %v\n%s", name, strings.Join(c, " "), err, out)
			}
		}
	}
	if got := ores.Outputs["image"]; got != image {
		t.Errorf("no push: output image = %q, want %q", got, image)
	}
	if len(api.bundles) != 6 {
		t.Errorf("stored %d attestations in GitHub, want 6", len(api.bundles))
	}

	// Files and an image not pushed have no storage record.
	if len(api.records) != 1 {
		t.Errorf("%d artifact metadata requests after the file and no-push steps, want still 1: %+v", len(api.records), api.records)
	}

	// The verify sub-action, as a deployment job runs it, recording the deployment.
	vres := job.run(t, filepath.Join(repoRoot(t), "actions", "verify"), map[string]string{
		"image":                    res.Outputs["image"],
		"certificate-identity":     identity,
		"certificate-oidc-issuer":  iss.GitHub,
		"attestations":             "slsaprovenance1, spdxjson",
		"trusted-root":             trustedRoot,
		"tlog":                     "false",
		"insecure-registry":        reg.Host,
		"github-token":             githubToken,
		"github-deployment-record": "production",
		"github-cluster":           "prod-1",
	})
	if vres.Failed != "" {
		t.Fatalf("verify: step %s failed:\n%s", vres.Failed, vres.Log)
	}
	if vres.Outputs["verified"] != "true" || vres.Outputs["digest"] != digest {
		t.Errorf("verify outputs = %v, want verified true for %s", vres.Outputs, digest)
	}
	if !strings.Contains(vres.Summary, "verified") || !strings.Contains(vres.Summary, "as deployed to `production`") {
		t.Errorf("verify summary:\n%s", vres.Summary)
	}
	wantDeployment := metadataRequest{"/orgs/acme/artifacts/metadata/deployment-record", "Bearer " + githubToken, "2022-11-28", map[string]any{
		"name": reg.Repo("acme/app"), "digest": digest, "status": "deployed", "logical_environment": "production",
		"cluster": "prod-1", "deployment_name": "app", "return_records": true,
	}}
	if len(api.records) != 2 {
		t.Fatalf("%d artifact metadata requests, want the storage record and one deployment record: %+v", len(api.records), api.records)
	}
	if diff := cmp.Diff(wantDeployment, api.records[1]); diff != "" {
		t.Errorf("deployment record request (-want +got):\n%s", diff)
	}
	if got := vres.Outputs["deployment-record-ids"]; got != "9002" {
		t.Errorf("output deployment-record-ids = %q, want 9002", got)
	}
	checkNoSecrets(t, "verify log", vres.Log, idToken, requestToken, githubToken)

	// A verification that fails records nothing: another identity is required.
	bad := job.run(t, filepath.Join(repoRoot(t), "actions", "verify"), map[string]string{
		"image": res.Outputs["image"], "certificate-identity": identity + "-other", "certificate-oidc-issuer": iss.GitHub,
		"trusted-root": trustedRoot, "tlog": "false", "insecure-registry": reg.Host,
		"github-token": githubToken, "github-deployment-record": "production",
	})
	if bad.Failed == "" {
		t.Errorf("verify with another identity passed:\n%s", bad.Log)
	}
	if len(api.records) != 2 {
		t.Errorf("a failed verification wrote artifact metadata: %+v", api.records[2:])
	}
}

// TestActionKeyedMultiArch is seed 001's pipeline: a two-platform image signed with a cosign
// key pair kept in secrets (--recursive), an SBOM attested for one platform, no transparency
// log, a registry without the referrers API; then cosign v2 verifies each platform with the
// public key, as the write-up does.
func TestActionKeyedMultiArch(t *testing.T) {
	reg := testbed.StartRegistry(t, testbed.Distribution)
	cosign2 := testbed.Bin(t, testbed.BinCosign)
	cosign3 := testbed.Bin(t, testbed.BinCosignV3)
	index, platforms := pushIndex(t, reg, "patrickdung/meilisearch", "v0.24.0")

	const password = "PLANTED-cosign-password-0123"
	keys := testbed.CosignKeyPair(t, password)
	priv, err := os.ReadFile(filepath.Join(keys, "cosign.key"))
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(keys, "cosign.pub")

	claims := testbed.GitHubClaimsWith("patrickdung/meilisearch-crossbuild", map[string]any{"repository_visibility": "private"})
	// The attestations API must not be called: GitHub verifies certificates, not keys.
	api := startAttestationsAPI(t, "nobody/nothing")
	job := githubJob(t, claims, map[string]string{
		"COSIGN_PRIVATE_KEY": string(priv),
		"COSIGN_PASSWORD":    password,
		"GITHUB_API_URL":     api.URL,
	})

	res := job.run(t, filepath.Join(repoRoot(t), "actions", "sign"), map[string]string{
		"image":             reg.Repo("patrickdung/meilisearch:v0.24.0"),
		"key":               "env://COSIGN_PRIVATE_KEY",
		"timestamp":         "false",
		"recursive":         "true",
		"insecure-registry": reg.Host,
	})
	if res.Failed != "" {
		t.Fatalf("sign: step %s failed:\n%s", res.Failed, res.Log)
	}
	if got := res.Outputs["digest"]; got != index {
		t.Errorf("output digest = %q, want the index %s (the tag resolved once)", got, index)
	}
	// The table abbreviates digests to 12 hex digits.
	for _, want := range []string{"v0.24.0", "linux/amd64", "linux/arm64", "cosign.pub", "--insecure-ignore-tlog=true", platforms[0][:19], platforms[1][:19]} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("summary does not mention %q:\n%s", want, res.Summary)
		}
	}

	sbom := filepath.Join(job.Workspace, "amd64-sbom.spdx.json")
	if err := os.WriteFile(sbom, []byte(spdxSBOM), 0o644); err != nil {
		t.Fatal(err)
	}
	ares := job.run(t, filepath.Join(repoRoot(t), "actions", "attest"), map[string]string{
		"image":             reg.Repo("patrickdung/meilisearch") + "@" + platforms[0],
		"sbom":              sbom,
		"sbom-type":         "spdxjson",
		"key":               "env://COSIGN_PRIVATE_KEY",
		"timestamp":         "false",
		"insecure-registry": reg.Host,
	})
	if ares.Failed != "" {
		t.Fatalf("attest: step %s failed:\n%s", ares.Failed, ares.Log)
	}
	if len(api.bundles) != 0 {
		t.Errorf("keyed bundles were stored in GitHub's attestations (%d)", len(api.bundles))
	}
	for what, text := range map[string]string{"sign log": res.Log, "attest log": ares.Log, "summary": res.Summary + ares.Summary} {
		checkNoSecrets(t, what, text, password, string(priv[40:80]))
	}

	env := []string{"TUF_ROOT=" + t.TempDir()}
	// The write-up's own commands, for the index and each platform. cosign v2.6 wants a
	// trusted root even to check a key (online it fetches the public one from TUF, out of
	// reach here); an empty one stands in for it.
	noCAs := testbed.TrustedRoot(t, nil, nil)
	for _, d := range append([]string{index}, platforms...) {
		ref := reg.Repo("patrickdung/meilisearch") + "@" + d
		runCmd(t, env, cosign2, "verify", "--key", pub, "--insecure-ignore-tlog=true", "--trusted-root", noCAs, ref)
	}
	runCmd(t, env, cosign2, "verify-attestation", "--key", pub, "--insecure-ignore-tlog=true", "--trusted-root", noCAs, "--type", "spdxjson", reg.Repo("patrickdung/meilisearch")+"@"+platforms[0])
	// And the summaries' commands.
	for _, c := range append(summaryCommands(t, res.Summary), summaryCommands(t, ares.Summary)...) {
		c = replaceArg(c, "cosign.pub", pub)
		switch c[0] {
		case "cosign":
			runCmd(t, env, cosign3, c[1:]...)
		case "seal":
			runCmd(t, env, res.Outputs["seal-path"], append(c[1:], "--insecure-registry", reg.Host)...)
		}
	}
}

// TestActionInputErrors checks that a misused step fails with an error annotation that
// says what to do, before anything is signed.
func TestActionInputErrors(t *testing.T) {
	job := githubJob(t, testbed.GitHubClaims("acme/app"), nil)
	for _, tc := range []struct {
		action string
		inputs map[string]string
		want   string
	}{
		{"actions/sign", map[string]string{}, "input image is required"},
		{"actions/sign", map[string]string{"image": "registry.example/app", "digest": "sha256:abc"}, "input digest"},
		{"actions/attest", map[string]string{"image": "registry.example/app@sha256:" + strings.Repeat("a", 64)}, "nothing to attest"},
		{"actions/sign", map[string]string{"image": "registry.example/app:1", "format": "sigstore"}, "input format"},
		{"actions/verify", map[string]string{"image": "registry.example/app:1", "version": "v9.9.9"}, "version v9.9.9 is not pinned"},
	} {
		t.Run(tc.action+"/"+tc.want, func(t *testing.T) {
			res := job.run(t, filepath.Join(repoRoot(t), tc.action), tc.inputs)
			if res.Failed == "" {
				t.Fatalf("the action succeeded; want it to fail with %q\n%s", tc.want, res.Log)
			}
			if !regexp.MustCompile(`(?m)^::error[^:]*::.*` + regexp.QuoteMeta(tc.want)).MatchString(res.Log) {
				t.Errorf("no ::error annotation saying %q:\n%s", tc.want, res.Log)
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

// TestActionCommandsPinRepository signs an image as acme/app's release workflow, and another
// as evil/app calling that same workflow as a reusable one: both certificates have the same
// subject and issuer. The commands acme's job summary prints must accept acme's image and
// refuse evil's, with cosign v3 and v2 and seal verify; without the repository flags cosign
// accepts evil's, which is what they are there for.
func TestActionCommandsPinRepository(t *testing.T) {
	iss := testbed.StartIssuer(t)
	ful := testbed.StartFulcio(t, iss)
	tsa := testbed.StartTSA(t)
	reg := testbed.StartRegistry(t, testbed.Olareg)
	trustedRoot := testbed.TrustedRoot(t, ful, tsa)
	cosign3 := testbed.Bin(t, testbed.BinCosignV3)
	cosign2 := testbed.Bin(t, testbed.BinCosign)

	sign := func(repo string, claims map[string]any) *runResult {
		t.Helper()
		digest := pushImage(t, reg, repo, "v1")
		const requestToken = "PLANTED-request-token-0123456789"
		tokens := tokenServer(t, iss.Mint(iss.GitHub, claims), requestToken)
		job := githubJob(t, claims, map[string]string{
			"ACTIONS_ID_TOKEN_REQUEST_URL":   tokens.URL + "/token",
			"ACTIONS_ID_TOKEN_REQUEST_TOKEN": requestToken,
		})
		res := job.run(t, repoRoot(t), map[string]string{
			"image": reg.Repo(repo) + "@" + digest, "fulcio-url": ful.URL, "timestamp-url": tsa.TimestampURL(),
			"tlog": "false", "insecure-registry": reg.Host, "github-attestations": "false",
		})
		if res.Failed != "" {
			t.Fatalf("%s: step %s failed:\n%s", repo, res.Failed, res.Log)
		}
		return res
	}
	acme := sign("acme/app", testbed.GitHubClaims("acme/app"))
	evil := sign("evil/app", testbed.GitHubClaimsWith("evil/app", map[string]any{
		"job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main",
	}))
	subject := "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
	for name, r := range map[string]*runResult{"acme": acme, "evil": evil} {
		if !strings.Contains(r.Summary, "Signed keyless as `"+subject+"`") {
			t.Fatalf("%s was not signed as %s (the premise of this test):\n%s", name, subject, r.Summary)
		}
	}

	cmds := summaryCommands(t, acme.Summary)
	if len(cmds) != 5 {
		t.Fatalf("summary has %d commands, want 5 (seal verify; cosign verify, verify-attestation, for the bundles and again for the legacy tags):\n%s", len(cmds), acme.Summary)
	}
	env := append(os.Environ(), "TUF_ROOT="+t.TempDir())
	try := func(bin string, args []string) error {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		t.Logf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, lastLines(string(out), 4))
		return err
	}
	unpinned := func(args []string) []string {
		var out []string
		for i := 0; i < len(args); i++ {
			if args[i] == "--certificate-github-workflow-repository" || args[i] == "--certificate-github-workflow-ref" {
				i++
				continue
			}
			out = append(out, args[i])
		}
		return out
	}
	for _, c := range cmds {
		c = replaceArg(c, TrustedRootPlaceholder, trustedRoot)
		onEvil := replaceArg(c, acme.Outputs["image"], evil.Outputs["image"])
		switch c[0] {
		case "cosign":
			if !slices.Contains(c, "--certificate-github-workflow-repository") {
				t.Errorf("%q does not pin the repository", c)
			}
			for _, bin := range []string{cosign3, cosign2} {
				if err := try(bin, c[1:]); err != nil {
					t.Errorf("%s %s refused acme's image: %v", filepath.Base(bin), strings.Join(c[1:], " "), err)
				}
				if err := try(bin, onEvil[1:]); err == nil {
					t.Errorf("%s %s accepted evil's image, signed for another repository", filepath.Base(bin), strings.Join(onEvil[1:], " "))
				}
				if err := try(bin, unpinned(onEvil[1:])); err != nil {
					t.Errorf("without the repository flags %s refused evil's image (%v): this test no longer shows what they add", filepath.Base(bin), err)
				}
			}
		case "seal":
			seal := acme.Outputs["seal-path"]
			if err := try(seal, append(c[1:], "--insecure-registry", reg.Host)); err != nil {
				t.Errorf("%s refused acme's image: %v", strings.Join(c, " "), err)
			}
			if err := try(seal, append(onEvil[1:], "--insecure-registry", reg.Host)); err == nil {
				t.Errorf("%s accepted evil's image, signed for another repository", strings.Join(onEvil, " "))
			}
		default:
			t.Errorf("unexpected command %q in the summary", c)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
