package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secret-looking values planted in the environment of every provider.
var planted = map[string]string{
	"GITHUB_TOKEN":                   "ghs_PLANTEDgithubtoken0123456789abcdef",
	"ACTIONS_RUNTIME_TOKEN":          "PLANTED-runtime-token-0123456789",
	"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "PLANTED-request-token-0123456789",
	"CI_JOB_TOKEN":                   "glcbt-PLANTEDjobtoken0123456789",
	"CI_REGISTRY_PASSWORD":           "PLANTED-registry-password-0123",
	"COSIGN_PASSWORD":                "PLANTED-cosign-password-0123",
	"COSIGN_PRIVATE_KEY":             "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----PLANTEDKEY",
	"AWS_SECRET_ACCESS_KEY":          "PLANTEDawsSECRETkey0123456789abcdef",
	"DATABASE_URL":                   "postgres://app:PLANTEDdbpass99@db.internal/app",
	"NPM_TOKEN":                      "npm_PLANTEDnpmtoken0123456789abcdef",
}

func fakeJWT(t *testing.T, claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(b) + ".PLANTEDsignaturePART"
}

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Execute(context.Background(), args, &o, &e)
	return o.String(), e.String(), code
}

func clearCI(t *testing.T) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GITHUB_") || strings.HasPrefix(k, "GITLAB_") || strings.HasPrefix(k, "CI_") || strings.HasPrefix(k, "ACTIONS_") || k == "CI" || strings.HasPrefix(k, "RUNNER_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// TestNoSecretsInOutput runs `seal provenance` under every provider with
// secrets planted in the environment and asserts none reaches stdout,
// stderr or the written file (the ::add-mask:: command, which the runner
// consumes and never shows, is the only place the token may stand).
func TestNoSecretsInOutput(t *testing.T) {
	sub := "--subject=registry.example/app@sha256:" + strings.Repeat("ab", 32)
	for _, provider := range []string{"github", "gitlab", "local"} {
		t.Run(provider, func(t *testing.T) {
			clearCI(t)
			for k, v := range planted {
				t.Setenv(k, v)
			}
			var secrets []string
			for _, v := range planted {
				secrets = append(secrets, v)
			}
			switch provider {
			case "github":
				tok := fakeJWT(t, map[string]any{"iss": "https://token.actions.githubusercontent.com", "aud": "sigstore", "repository": "acme/app",
					"sha": strings.Repeat("a", 40), "ref": "refs/heads/main", "job_workflow_ref": "acme/app/.github/workflows/r.yml@refs/heads/main",
					"workflow_ref": "acme/app/.github/workflows/r.yml@refs/heads/main", "run_id": "1", "run_attempt": "1"})
				secrets = append(secrets, tok)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Authorization") != "Bearer "+planted["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] {
						w.WriteHeader(http.StatusUnauthorized)
						return
					}
					_ = json.NewEncoder(w).Encode(map[string]string{"value": tok})
				}))
				defer srv.Close()
				t.Setenv("GITHUB_ACTIONS", "true")
				t.Setenv("GITHUB_REPOSITORY", "acme/app")
				t.Setenv("GITHUB_SHA", strings.Repeat("a", 40))
				t.Setenv("GITHUB_REF", "refs/heads/main")
				t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", srv.URL+"/token?sig=PLANTEDurlSIGNATURE0123")
				secrets = append(secrets, "PLANTEDurlSIGNATURE0123")
			case "gitlab":
				tok := fakeJWT(t, map[string]any{"iss": "https://gitlab.com", "aud": "sigstore", "project_path": "g/app",
					"sha": strings.Repeat("b", 40), "ref": "main", "ref_type": "branch", "ci_config_ref_uri": "gitlab.com/g/app//.gitlab-ci.yml@refs/heads/main"})
				secrets = append(secrets, tok)
				t.Setenv("GITLAB_CI", "true")
				t.Setenv("CI_SERVER_URL", "https://gitlab.com")
				t.Setenv("CI_PROJECT_PATH", "g/app")
				t.Setenv("CI_COMMIT_REF_NAME", "main")
				t.Setenv("SIGSTORE_ID_TOKEN", tok)
			}
			out := filepath.Join(t.TempDir(), "prov.json")
			for _, args := range [][]string{
				{"provenance", sub},
				{"provenance", sub, "-o", out, "--slsa-version", "0.2"},
				{"provenance", sub, "--predicate-only", "-v"},
				{"provenance", sub, "--identity-token", "env://NPM_TOKEN"}, // a bad token: the error must not echo it
			} {
				stdout, stderr, code := run(t, args...)
				file, _ := os.ReadFile(out)
				all := stdout + "\n" + stderr + "\n" + string(file)
				var kept []string
				for _, l := range strings.Split(all, "\n") {
					if !strings.HasPrefix(l, "::add-mask::") {
						kept = append(kept, l)
					}
				}
				shown := strings.Join(kept, "\n")
				for _, s := range secrets {
					if strings.Contains(shown, s) {
						t.Errorf("seal %v (exit %d) printed secret %.12s...:\n%s", args, code, s, shown)
					}
				}
				if args[len(args)-1] != "env://NPM_TOKEN" && code != 0 {
					t.Errorf("seal %v exit %d: %s", args, code, stderr)
				}
			}
		})
	}
}
