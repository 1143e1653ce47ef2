package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/testbed"
)

const metadataToken = "ghs_PLANTEDmetadataTOKEN0123456789abcdef"

// metadataAPI stands in for GitHub's artifact metadata endpoints: it checks the method, the
// headers and the token of every request, keeps its path and body, and answers with status.
type metadataAPI struct {
	*httptest.Server
	mu       sync.Mutex
	status   int
	requests []metadataRequest
}

type metadataRequest struct {
	Path string
	Body map[string]any
}

func startMetadataAPI(t *testing.T, status int) *metadataAPI {
	t.Helper()
	api := &metadataAPI{status: status}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("artifact metadata API: %s %s, want POST", r.Method, r.URL.Path)
		}
		for h, want := range map[string]string{"Authorization": "Bearer " + metadataToken, "X-GitHub-Api-Version": "2022-11-28", "Accept": "application/vnd.github+json"} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("artifact metadata API: %s = %q, want %q", h, got, want)
			}
		}
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("artifact metadata API: body %s: %v", b, err)
		}
		api.mu.Lock()
		api.requests = append(api.requests, metadataRequest{r.URL.Path, body})
		api.mu.Unlock()
		w.WriteHeader(api.status)
		switch {
		case api.status == http.StatusForbidden:
			_, _ = io.WriteString(w, `{"message":"Resource not accessible by integration"}`)
		case strings.HasSuffix(r.URL.Path, "/storage-record"):
			_, _ = io.WriteString(w, `{"total_count":1,"storage_records":[{"id":31337}]}`)
		default:
			_, _ = io.WriteString(w, `{"total_count":1,"deployment_records":[{"id":4711}]}`)
		}
	}))
	t.Cleanup(api.Close)
	return api
}

// keyedGitHubJob is a GitHub Actions job of acme/app with a cosign key, whose artifact
// metadata goes to api.
func keyedGitHubJob(t *testing.T, api *metadataAPI) (key string) {
	t.Helper()
	clearCI(t)
	const requestToken = "PLANTED-request-token-0123456789"
	githubJob(t, requestToken, "")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", requestToken)
	t.Setenv("GITHUB_API_URL", api.URL)
	t.Setenv("GITHUB_TOKEN", metadataToken)
	t.Setenv("COSIGN_PASSWORD", "github-metadata")
	key = filepath.Join(t.TempDir(), "cosign")
	if _, stderr, code := run(t, "generate-key-pair", "--output-key-prefix", key); code != 0 {
		t.Fatalf("generate-key-pair: exit %d: %s", code, stderr)
	}
	return key
}

// TestGitHubStorageRecord signs an image with --github-storage-record: a storage record names
// it, its registry and repository, in the organisation of the job's repository; a refusal is
// a warning; outside GitHub Actions, or for files, the flag is refused before signing.
func TestGitHubStorageRecord(t *testing.T) {
	reg := testbed.StartRegistry(t, testbed.InProcess)
	dig := testbed.PushImage(t, reg.Repo("acme/app:v1"))
	for _, tc := range []struct {
		name   string
		status int
		code   int
		stderr string
	}{
		{"recorded", http.StatusCreated, 0, "recorded storage of " + reg.Repo("acme/app") + "@" + dig},
		{"refused", http.StatusForbidden, 0, "artifact-metadata: write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := startMetadataAPI(t, tc.status)
			key := keyedGitHubJob(t, api)
			stdout, stderr, code := run(t, "sign", "--key", key+".key", "--no-tlog", "--no-timestamp", "--insecure-registry", reg.Host,
				"--github-storage-record", reg.Repo("acme/app:v1"))
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("seal sign --github-storage-record: exit %d, want %d and %q:\n%s", code, tc.code, tc.stderr, stderr)
			}
			checkNoToken(t, stdout+stderr)
			want := []metadataRequest{{"/orgs/acme/artifacts/metadata/storage-record", map[string]any{
				"name": reg.Repo("acme/app"), "digest": dig, "version": "v1", "registry_url": "http://" + reg.Host,
				"repository": "acme/app", "status": "active",
			}}}
			if diff := cmp.Diff(want, api.requests); diff != "" {
				t.Errorf("storage record requests (-want +got):\n%s", diff)
			}
		})
	}

	api := startMetadataAPI(t, http.StatusCreated)
	key := keyedGitHubJob(t, api)
	for _, args := range [][]string{
		{"attest", "--provenance", "--key", key + ".key", "--subject-path", "*.go", "--output-dir", t.TempDir(), "--github-storage-record"},
		{"attest", "--provenance", "--key", key + ".key", "--no-upload", "--output-dir", t.TempDir(), "--github-storage-record", reg.Repo("acme/app") + "@" + dig},
	} {
		if _, stderr, code := run(t, args...); code != 2 || !strings.Contains(stderr, "applies to an IMAGE without --no-upload") {
			t.Errorf("seal %q: exit %d, want 2:\n%s", args, code, stderr)
		}
	}
	t.Setenv("GITHUB_ACTIONS", "")
	if _, stderr, code := run(t, "sign", "--key", key+".key", "--github-storage-record", reg.Repo("acme/app:v1")); code != 2 || !strings.Contains(stderr, "runs in GitHub Actions") {
		t.Errorf("seal sign --github-storage-record outside GitHub Actions: exit %d, want 2:\n%s", code, stderr)
	}
	if len(api.requests) != 0 {
		t.Errorf("refused runs wrote %d storage records", len(api.requests))
	}
}

// TestGitHubDeploymentRecord runs the deploy gate: a passing `seal verify` records the image
// as deployed to the environment, cluster and deployment given; a failing one records nothing.
func TestGitHubDeploymentRecord(t *testing.T) {
	reg := testbed.StartRegistry(t, testbed.InProcess)
	dig := testbed.PushImage(t, reg.Repo("acme/web-app:v2"))
	signed := reg.Repo("acme/web-app") + "@" + dig
	unsigned := reg.Repo("acme/other") + "@" + testbed.PushImage(t, reg.Repo("acme/other:v1"))
	api := startMetadataAPI(t, http.StatusOK)
	key := keyedGitHubJob(t, api)
	if _, stderr, code := run(t, "sign", "--key", key+".key", "--no-tlog", "--no-timestamp", "--insecure-registry", reg.Host, signed); code != 0 {
		t.Fatalf("seal sign: exit %d:\n%s", code, stderr)
	}
	gate := []string{"verify", "--key", key + ".pub", "--insecure-registry", reg.Host, "--github-deployment-record", "production",
		"--github-physical-environment", "eu-west-1", "--github-cluster", "prod-1"}

	stdout, stderr, code := run(t, append(gate, reg.Repo("acme/web-app:v2"))...)
	if code != 0 || !strings.Contains(stderr, "as deployed to production/eu-west-1/prod-1 (deployment web-app)") {
		t.Fatalf("seal verify --github-deployment-record: exit %d:\n%s", code, stderr)
	}
	checkNoToken(t, stdout+stderr)
	want := []metadataRequest{{"/orgs/acme/artifacts/metadata/deployment-record", map[string]any{
		"name": reg.Repo("acme/web-app"), "digest": dig, "version": "v2", "status": "deployed",
		"logical_environment": "production", "physical_environment": "eu-west-1", "cluster": "prod-1",
		"deployment_name": "web-app", "return_records": true,
	}}}
	if diff := cmp.Diff(want, api.requests); diff != "" {
		t.Errorf("deployment record requests (-want +got):\n%s", diff)
	}

	// The gate refuses an unsigned image: nothing is recorded, not even decommissioned.
	api.requests = nil
	if _, stderr, code := run(t, append(gate, unsigned)...); code != 1 {
		t.Errorf("seal verify of an unsigned image: exit %d, want 1:\n%s", code, stderr)
	}
	// Nor when one of several images fails.
	if _, stderr, code := run(t, append(gate, signed, unsigned)...); code != 1 {
		t.Errorf("seal verify of a signed and an unsigned image: exit %d, want 1:\n%s", code, stderr)
	}
	if len(api.requests) != 0 {
		t.Errorf("failed verifications wrote deployment records: %+v", api.requests)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--key", key + ".pub", "--github-cluster", "prod-1", signed}, "need --github-deployment-record ENV"},
		{[]string{"verify", "--key", key + ".pub", "--github-deployment-record", "prod", "--github-deployment-name", "web", signed, unsigned}, "give one IMAGE"},
		{[]string{"verify", "--key", key + ".pub", "--github-deployment-record", "prod", "--bundle", "x.json", "file"}, "not files checked with --bundle"},
	} {
		if _, stderr, code := run(t, tc.args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("seal %q: exit %d, want 2 and %q:\n%s", tc.args, code, tc.want, stderr)
		}
	}
	if len(api.requests) != 0 {
		t.Errorf("refused runs wrote deployment records: %+v", api.requests)
	}
}

// checkNoToken fails if out shows the token anywhere but in the ::add-mask:: command the
// runner consumes.
func checkNoToken(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, metadataToken) && line != "::add-mask::"+metadataToken {
			t.Errorf("the output shows the token: %q", line)
		}
	}
}
