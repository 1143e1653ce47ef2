package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sealsign/seal/internal/keys"
)

// localEnv clears the CI variables, so that the local provider runs.
func localEnv(t *testing.T) {
	for _, k := range []string{"GITHUB_ACTIONS", "GITLAB_CI", "CI", "ACTIONS_ID_TOKEN_REQUEST_URL", "SIGSTORE_ID_TOKEN"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// Local inputs are checked before any network call: the registry sees no
// request, the exit code is 2, and the error says what to do.
func TestLocalInputsCheckedFirst(t *testing.T) {
	localEnv(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	missing := filepath.Join(t.TempDir(), "nope.key")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sign", "--insecure-registry", host, "--key", missing, host + "/app:v1"}, "--key: reading key file: open " + missing},
		{[]string{"attest", "--provenance", "--insecure-registry", host, "--key", missing, host + "/app:v1"}, "no such file"},
		{[]string{"sign", "--insecure-registry", host, "--key", "gcpkms://x", host + "/app:v1"}, "gcpkms:// keys are not supported"},
		{[]string{"sign", "--insecure-registry", host, host + "/Acme/App:v1"}, "a repository name must be lowercase (acme/app); in GitHub Actions ${{ github.repository }} keeps the owner's capitals"},
		{[]string{"sign", "--insecure-registry", host, host + "/app@sha256:123"}, "want NAME:TAG or NAME@sha256:HEX"},
		{[]string{"sign", "--insecure-registry", host, "Not/A:Ref!!"}, `parsing image reference "Not/A:Ref!!"`},
	} {
		t.Run(strings.Join(tc.args[len(tc.args)-3:], " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Execute(context.Background(), tc.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.want)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the registry saw %d requests before the input error", n)
			}
		})
	}
}

// A plain-HTTP registry reached without --insecure-registry gets the flag
// named in the error; a local keyed signature logs no local-build warning,
// which is about provenance only.
func TestPlainHTTPHintAndNoLocalBuildWarning(t *testing.T) {
	localEnv(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	priv, _, err := keys.Generate([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(keyPath, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COSIGN_PASSWORD", "pw")
	var stdout, stderr bytes.Buffer
	code := Execute(context.Background(), []string{"sign", "--key", keyPath, host + "/app:v1"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if want := "pass --insecure-registry HOST:PORT"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
	if strings.Contains(stderr.String(), "local build") {
		t.Errorf("a keyed signature logged the local-build warning: %q", stderr.String())
	}
}
