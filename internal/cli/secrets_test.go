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

	"github.com/sealsign/seal/internal/testbed"
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

// githubJob sets a GitHub Actions job of acme/app in the environment, with
// a token endpoint (URL query query) that hands its identity token to
// requestToken only, and returns the token.
func githubJob(t *testing.T, requestToken, query string) string {
	t.Helper()
	tok := fakeJWT(t, map[string]any{"iss": "https://token.actions.githubusercontent.com", "aud": "sigstore", "repository": "acme/app",
		"sha": strings.Repeat("a", 40), "ref": "refs/heads/main", "job_workflow_ref": "acme/app/.github/workflows/r.yml@refs/heads/main",
		"workflow_ref": "acme/app/.github/workflows/r.yml@refs/heads/main", "run_id": "1", "run_attempt": "1"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+requestToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"value": tok})
	}))
	t.Cleanup(srv.Close)
	t.Setenv("GITHUB_ACTIONS", "true")
	t.Setenv("GITHUB_REPOSITORY", "acme/app")
	t.Setenv("GITHUB_SHA", strings.Repeat("a", 40))
	t.Setenv("GITHUB_REF", "refs/heads/main")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", srv.URL+"/token"+query)
	return tok
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
				secrets = append(secrets, githubJob(t, planted["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], "?sig=PLANTEDurlSIGNATURE0123"))
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

// TestNoSecretsInActionOutput runs `seal action` as a GitHub Actions step with secrets planted
// in the environment and in its inputs: a private key PEM given as the key input itself (as
// `key: ${{ secrets.COSIGN_PRIVATE_KEY }}` hands it over), COSIGN_PASSWORD, the github-token
// input and the runner's tokens. None may reach stdout, stderr, $GITHUB_OUTPUT or
// $GITHUB_STEP_SUMMARY; the ::add-mask:: commands that hide them are the only exception.
func TestNoSecretsInActionOutput(t *testing.T) {
	clearCI(t)
	for k, v := range planted {
		t.Setenv(k, v)
	}
	// The key is encrypted with the planted COSIGN_PASSWORD.
	keyDir := t.TempDir()
	if _, stderr, code := run(t, "generate-key-pair", "--output-key-prefix", filepath.Join(keyDir, "cosign")); code != 0 {
		t.Fatalf("generate-key-pair: exit %d: %s", code, stderr)
	}
	priv, err := os.ReadFile(filepath.Join(keyDir, "cosign.key"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(keyDir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	reg := testbed.StartRegistry(t, testbed.InProcess)
	image := reg.Repo("acme/app") + "@" + testbed.PushImage(t, reg.Repo("acme/app:v1"))

	secrets := []string{}
	for _, v := range planted {
		secrets = append(secrets, v)
	}
	// Every line of the key's body: a log that shows any of them shows part of the key.
	for _, l := range strings.Split(string(priv), "\n") {
		if len(l) >= 16 && !strings.HasPrefix(l, "-----") {
			secrets = append(secrets, l)
		}
	}
	const githubToken = "ghs_PLANTEDinputTOKEN0123456789abcdef"
	secrets = append(secrets, githubToken)
	secrets = append(secrets, githubJob(t, planted["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], ""))
	t.Setenv("COSIGN_PRIVATE_KEY", string(priv))

	for _, tc := range []struct {
		name   string
		args   []string
		inputs map[string]string
	}{
		{"sign with the key PEM as input", []string{"action", "sign"}, map[string]string{"KEY": string(priv)}},
		{"sign with the key in env", []string{"-v", "action", "sign"}, map[string]string{"KEY": "env://COSIGN_PRIVATE_KEY"}},
		{"sign and attest with the key PEM as input", []string{"-v", "action", "all"}, map[string]string{"KEY": string(priv)}},
		{"verify with the public key PEM as input", []string{"-v", "action", "verify"}, map[string]string{"KEY": string(pub)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary")}
			for k, p := range files {
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Setenv(k, p)
			}
			inputs := map[string]string{
				"IMAGE": image, "INSECURE_REGISTRY": reg.Host, "TLOG": "false", "TIMESTAMP": "false",
				"GITHUB_TOKEN": githubToken, "GITHUB_ATTESTATIONS": "false", "OUTPUT_DIR": filepath.Join(dir, "out"),
			}
			for k, v := range tc.inputs {
				inputs[k] = v
			}
			for k, v := range inputs {
				t.Setenv("INPUT_"+k, v)
			}
			stdout, stderr, code := run(t, tc.args...)
			shown := map[string]string{"stdout": stdout, "stderr": stderr}
			for k, p := range files {
				b, _ := os.ReadFile(p)
				shown[k] = string(b)
			}
			for where, text := range shown {
				for _, line := range strings.Split(text, "\n") {
					if strings.HasPrefix(line, "::add-mask::") {
						continue
					}
					for _, s := range secrets {
						if strings.Contains(line, s) {
							t.Errorf("seal %v (exit %d): %s shows secret %.12s...: %q", tc.args, code, where, s, line)
						}
					}
				}
			}
			if code != 0 {
				t.Errorf("seal %v: exit %d\n%s", tc.args, code, stderr)
			}
			if strings.Contains(tc.inputs["KEY"], "-----BEGIN") && !strings.Contains(stderr, "--key env://INPUT_KEY") {
				t.Errorf("seal %v: the log does not show the key read by reference from INPUT_KEY:\n%s", tc.args, stderr)
			}
		})
	}
}
