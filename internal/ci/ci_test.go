package ci

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sealsign/seal/internal/oidc"
)

func jwt(t testing.TB, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(b) + ".c2ln"
}

func token(t testing.TB, claims map[string]any) *oidc.Token {
	t.Helper()
	tok, err := oidc.Parse(jwt(t, claims))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func githubEnv() map[string]string {
	return map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_REPOSITORY": "acme/app", "GITHUB_REPOSITORY_ID": "1", "GITHUB_REPOSITORY_OWNER": "acme", "GITHUB_REPOSITORY_OWNER_ID": "2",
		"GITHUB_SHA": strings.Repeat("a", 40), "GITHUB_REF": "refs/heads/main", "GITHUB_REF_TYPE": "branch",
		"GITHUB_WORKFLOW_REF": "acme/app/.github/workflows/release.yml@refs/heads/main", "GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2",
		"GITHUB_EVENT_NAME": "push", "RUNNER_ENVIRONMENT": "github-hosted",
	}
}

func githubClaims() map[string]any {
	return map[string]any{
		"iss": "https://token.actions.githubusercontent.com", "aud": "sigstore",
		"repository": "acme/app", "repository_id": "1", "repository_owner": "acme", "repository_owner_id": "2",
		"sha": strings.Repeat("a", 40), "ref": "refs/heads/main", "ref_type": "branch",
		"workflow_ref":     "acme/app/.github/workflows/release.yml@refs/heads/main",
		"job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main",
		"run_id":           "77", "run_attempt": "2", "event_name": "push", "runner_environment": "github-hosted",
		"repository_visibility": "private",
	}
}

func gitlabEnv() map[string]string {
	return map[string]string{
		"GITLAB_CI": "true", "CI_SERVER_URL": "https://gitlab.example.com",
		"CI_PROJECT_PATH": "grp/app", "CI_PROJECT_ID": "10", "CI_COMMIT_SHA": strings.Repeat("b", 40),
		"CI_COMMIT_REF_NAME": "main", "CI_CONFIG_PATH": ".gitlab-ci.yml", "CI_PIPELINE_ID": "500", "CI_JOB_ID": "9000",
		"CI_PIPELINE_SOURCE": "push", "CI_PROJECT_VISIBILITY": "private",
	}
}

func gitlabClaims() map[string]any {
	return map[string]any{
		"iss": "https://gitlab.example.com", "aud": "sigstore",
		"project_path": "grp/app", "project_id": "10", "sha": strings.Repeat("b", 40),
		"ref": "main", "ref_type": "branch", "ref_path": "refs/heads/main", "ref_protected": "true",
		"pipeline_id": "500", "job_id": "9000", "pipeline_source": "push", "project_visibility": "private",
		"runner_environment": "gitlab-hosted",
		"ci_config_ref_uri":  "gitlab.example.com/grp/app//.gitlab-ci.yml@refs/heads/main", "ci_config_sha": strings.Repeat("b", 40),
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GITHUB_ACTIONS": "true"}, "github"},
		{map[string]string{"GITLAB_CI": "true"}, "gitlab"},
		{map[string]string{"CI": "true"}, "local"},
		{map[string]string{"GITHUB_ACTIONS": "false"}, "local"},
	} {
		p, err := Detect(WithEnv(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		if p.Name() != tc.want {
			t.Errorf("Detect(%v) = %s, want %s", tc.env, p.Name(), tc.want)
		}
	}
}

func TestBoundMetadata(t *testing.T) {
	ctx := context.Background()
	gh, _ := NewGitHub(WithEnv(githubEnv()))
	md, err := gh.Metadata(ctx, token(t, githubClaims()))
	if err != nil {
		t.Fatalf("GitHub Metadata() = %v", err)
	}
	want := &Metadata{
		Provider: "github", ServerURL: "https://github.com", Repository: "acme/app", RepositoryURL: "https://github.com/acme/app",
		RepositoryID: "1", Owner: "acme", OwnerID: "2", Visibility: "private", Commit: strings.Repeat("a", 40),
		Ref: "refs/heads/main", RefType: "branch", ConfigPath: ".github/workflows/release.yml",
		ConfigRef: "acme/app/.github/workflows/release.yml@refs/heads/main", BuilderRef: "acme/app/.github/workflows/release.yml@refs/heads/main",
		RunID: "77", RunAttempt: "2", RunURL: "https://github.com/acme/app/actions/runs/77/attempts/2", Event: "push",
		RunnerEnvironment: "github-hosted", Issuer: "https://token.actions.githubusercontent.com", Bound: true,
	}
	if d := cmp.Diff(want, md, cmpIgnoreTime); d != "" {
		t.Errorf("GitHub Metadata() mismatch (-want +got):\n%s", d)
	}

	// Claims fill what the environment lacks.
	env := githubEnv()
	delete(env, "GITHUB_REPOSITORY_ID")
	gh, _ = NewGitHub(WithEnv(env))
	if md, err = gh.Metadata(ctx, token(t, githubClaims())); err != nil || md.RepositoryID != "1" {
		t.Errorf("Metadata() repository id = %q, %v; want it from the claim", md.RepositoryID, err)
	}

	gl, _ := NewGitLab(WithEnv(gitlabEnv()))
	md, err = gl.Metadata(ctx, token(t, gitlabClaims()))
	if err != nil {
		t.Fatalf("GitLab Metadata() = %v", err)
	}
	if md.Ref != "refs/heads/main" || md.RefProtected != "true" || md.RunnerEnvironment != "gitlab-hosted" ||
		md.BuilderRef != "gitlab.example.com/grp/app//.gitlab-ci.yml@refs/heads/main" || !md.Bound || len(md.Notes) != 0 {
		t.Errorf("GitLab Metadata() = %+v", md)
	}
}

var cmpIgnoreTime = cmp.Comparer(func(a, b time.Time) bool { return true })

// TestTampering: the environment says one thing, the token another; Seal
// refuses and names the field and both values.
func TestTampering(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		provider func(map[string]string) Provider
		env      map[string]string
		claims   map[string]any
		set      map[string]string
		want     []string
	}{
		{
			name: "github commit", provider: func(e map[string]string) Provider { p, _ := NewGitHub(WithEnv(e)); return p },
			env: githubEnv(), claims: githubClaims(), set: map[string]string{"GITHUB_SHA": strings.Repeat("f", 40)},
			want: []string{"commit", "$GITHUB_SHA=\"" + strings.Repeat("f", 40) + "\"", "sha=\"" + strings.Repeat("a", 40) + "\""},
		},
		{
			name: "github ref", provider: func(e map[string]string) Provider { p, _ := NewGitHub(WithEnv(e)); return p },
			env: githubEnv(), claims: githubClaims(), set: map[string]string{"GITHUB_REF": "refs/tags/v9"},
			want: []string{"ref:", `$GITHUB_REF="refs/tags/v9"`, `ref="refs/heads/main"`},
		},
		{
			name: "github repository", provider: func(e map[string]string) Provider { p, _ := NewGitHub(WithEnv(e)); return p },
			env: githubEnv(), claims: githubClaims(), set: map[string]string{"GITHUB_REPOSITORY": "evil/app"},
			want: []string{"repository:", `$GITHUB_REPOSITORY="evil/app"`, `repository="acme/app"`},
		},
		{
			name: "github runner", provider: func(e map[string]string) Provider { p, _ := NewGitHub(WithEnv(e)); return p },
			env: githubEnv(), claims: merge(githubClaims(), map[string]any{"runner_environment": "self-hosted"}), set: nil,
			want: []string{"runner environment", `$RUNNER_ENVIRONMENT="github-hosted"`, `runner_environment="self-hosted"`},
		},
		{
			name: "gitlab commit", provider: func(e map[string]string) Provider { p, _ := NewGitLab(WithEnv(e)); return p },
			env: gitlabEnv(), claims: gitlabClaims(), set: map[string]string{"CI_COMMIT_SHA": strings.Repeat("c", 40)},
			want: []string{"commit", "$CI_COMMIT_SHA=\"" + strings.Repeat("c", 40) + "\"", "sha=\"" + strings.Repeat("b", 40) + "\""},
		},
		{
			name: "gitlab ref", provider: func(e map[string]string) Provider { p, _ := NewGitLab(WithEnv(e)); return p },
			env: gitlabEnv(), claims: gitlabClaims(), set: map[string]string{"CI_COMMIT_REF_NAME": "release"},
			want: []string{"ref:", `$CI_COMMIT_REF_NAME="release"`, `ref="main"`},
		},
		{
			name: "gitlab project", provider: func(e map[string]string) Provider { p, _ := NewGitLab(WithEnv(e)); return p },
			env: gitlabEnv(), claims: gitlabClaims(), set: map[string]string{"CI_PROJECT_PATH": "grp/app-typo"},
			want: []string{"project:", `$CI_PROJECT_PATH="grp/app-typo"`, `project_path="grp/app"`},
		},
		{
			name: "gitlab server", provider: func(e map[string]string) Provider { p, _ := NewGitLab(WithEnv(e)); return p },
			env: gitlabEnv(), claims: gitlabClaims(), set: map[string]string{"CI_SERVER_URL": "https://gitlab.evil.example"},
			want: []string{"server", `$CI_SERVER_URL="https://gitlab.evil.example"`, `iss="https://gitlab.example.com"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.set {
				tc.env[k] = v
			}
			_, err := tc.provider(tc.env).Metadata(ctx, token(t, tc.claims))
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("Metadata() = %v, want ErrMismatch", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func TestGitLabWithoutConfigRefURI(t *testing.T) {
	env := gitlabEnv()
	env["CI_CONFIG_PATH"] = "ci/main.yml@grp/templates:v2"
	c := gitlabClaims()
	delete(c, "ci_config_ref_uri")
	delete(c, "ci_config_sha")
	gl, _ := NewGitLab(WithEnv(env))
	md, err := gl.Metadata(context.Background(), token(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if want := "gitlab.example.com/grp/templates//ci/main.yml@v2"; md.BuilderRef != want {
		t.Errorf("BuilderRef = %q, want %q", md.BuilderRef, want)
	}
	if md.ConfigPath != "ci/main.yml" || md.ConfigSHA != "" {
		t.Errorf("ConfigPath, ConfigSHA = %q, %q", md.ConfigPath, md.ConfigSHA)
	}
	if len(md.Notes) != 1 || !strings.Contains(md.Notes[0], "no ci_config_ref_uri claim") {
		t.Errorf("Notes = %q, want the missing-claim explanation", md.Notes)
	}
}

func TestUnboundSaysSo(t *testing.T) {
	gh, _ := NewGitHub(WithEnv(githubEnv()))
	md, err := gh.Metadata(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if md.Bound || len(md.Notes) == 0 || !strings.Contains(md.Notes[0], "id-token: write") {
		t.Errorf("unbound metadata: Bound=%v Notes=%q", md.Bound, md.Notes)
	}
}

// actionsServer behaves like the Actions token endpoint: bearer check,
// audience parameter, {"value": JWT} reply.
func actionsServer(t *testing.T, requestToken string) (*httptest.Server, *[]string) {
	var auds []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+requestToken {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		aud := r.URL.Query().Get("audience")
		auds = append(auds, aud)
		if r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, "api-version missing", http.StatusBadRequest)
			return
		}
		c := githubClaims()
		c["aud"] = aud
		_ = json.NewEncoder(w).Encode(map[string]string{"value": jwt(t, c)})
	}))
	t.Cleanup(srv.Close)
	return srv, &auds
}

func TestGitHubTokenRequest(t *testing.T) {
	srv, auds := actionsServer(t, "req-token-123456")
	env := githubEnv()
	env["ACTIONS_ID_TOKEN_REQUEST_URL"] = srv.URL + "/idtoken?api-version=2.0"
	env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "req-token-123456"
	var masked []string
	gh, _ := NewGitHub(WithEnv(env), WithTransport(srv.Client().Transport), WithMask(func(s string) { masked = append(masked, s) }))
	md, tok, err := Resolve(context.Background(), gh, nil, "sigstore")
	if err != nil {
		t.Fatalf("Resolve() = %v", err)
	}
	if got := tok.Claims.Audience(); len(got) != 1 || got[0] != "sigstore" {
		t.Errorf("token audience = %v", got)
	}
	if d := cmp.Diff([]string{"sigstore"}, *auds); d != "" {
		t.Errorf("audiences requested (-want +got):\n%s", d)
	}
	if len(masked) != 1 || masked[0] != tok.Raw {
		t.Errorf("token was not masked: %d masks", len(masked))
	}
	if !md.Bound {
		t.Error("metadata not bound to the fetched token")
	}

	// Wrong request token: a clear error without the token in it.
	env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "wrong-token-999999"
	gh, _ = NewGitHub(WithEnv(env), WithTransport(srv.Client().Transport))
	_, _, err = Resolve(context.Background(), gh, nil, "sigstore")
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-token-999999") {
		t.Errorf("Resolve(bad bearer) = %v, want a 401 error without the token", err)
	}

	// No id-token permission: no token, metadata unbound, hint given.
	delete(env, "ACTIONS_ID_TOKEN_REQUEST_URL")
	gh, _ = NewGitHub(WithEnv(env))
	md, tok, err = Resolve(context.Background(), gh, nil, "sigstore")
	if err != nil || tok != nil || md.Bound {
		t.Errorf("Resolve(no permission) = %v, %v, bound=%v", err, tok, md.Bound)
	}
	if _, err := gh.TokenSource().Token(context.Background(), "sigstore"); !errors.Is(err, oidc.ErrNoToken) || !strings.Contains(err.Error(), "id-token: write") {
		t.Errorf("Token(no permission) = %v", err)
	}
}

func TestGitLabTokenFromEnv(t *testing.T) {
	env := gitlabEnv()
	env["MY_TOKEN"] = jwt(t, gitlabClaims())
	gl, _ := NewGitLab(WithEnv(env), WithTokenEnv("MY_TOKEN"))
	md, tok, err := Resolve(context.Background(), gl, nil, "sigstore")
	if err != nil || tok == nil || !md.Bound {
		t.Fatalf("Resolve() = %v, token %v", err, tok)
	}
	gl, _ = NewGitLab(WithEnv(gitlabEnv()))
	if _, err := gl.TokenSource().Token(context.Background(), "sigstore"); !errors.Is(err, oidc.ErrNoToken) || !strings.Contains(err.Error(), "id_tokens") {
		t.Errorf("Token(unset) = %v, want a hint about id_tokens", err)
	}
	if _, err := NewGitLab(WithTokenEnv("BAD NAME")); err == nil {
		t.Error("WithTokenEnv accepted a name with a space")
	}
}

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	fake := func(_ context.Context, d string, args ...string) (string, error) {
		if d != dir {
			t.Errorf("git ran in %s, want %s", d, dir)
		}
		switch strings.Join(args, " ") {
		case "rev-parse --verify HEAD":
			return strings.Repeat("d", 40) + "\n", nil
		case "symbolic-ref -q HEAD":
			return "refs/heads/dev\n", nil
		case "remote get-url origin":
			return "https://oauth2:glpat-SECRET123456@gitlab.example.com/grp/app.git\n", nil
		case "status --porcelain --untracked-files=no":
			return " M main.go\n", nil
		}
		return "", errors.New("unexpected")
	}
	l, _ := NewLocal(WithDir(dir))
	l.o.git = fake
	md, err := l.Metadata(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if md.RepositoryURL != "https://gitlab.example.com/grp/app" || md.Ref != "refs/heads/dev" || md.RefType != "branch" || !md.Dirty {
		t.Errorf("Local Metadata() = %+v", md)
	}
}

func TestLocalRealGit(t *testing.T) {
	// The real checkout this test runs in, if any: must not fail either way.
	l, _ := NewLocal(WithDir(filepath.Join("..", "..")))
	if _, err := l.Metadata(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// A directory that is not a repository gives empty fields, no error.
	l, _ = NewLocal(WithDir(t.TempDir()))
	md, err := l.Metadata(context.Background(), nil)
	if err != nil || md.Commit != "" {
		t.Errorf("Metadata(non-repo) = %+v, %v", md, err)
	}
}

func TestCleanRemote(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/o/r.git":                    "https://github.com/o/r",
		"https://x-access-token:ghs_abc@github.com/o/r": "https://github.com/o/r",
		"git@github.com:o/r.git":                        "https://github.com/o/r",
		"ssh://git@gitlab.example.com:2222/g/p.git":     "https://gitlab.example.com/g/p",
		"/home/me/src/repo":                             "",
		"":                                              "",
		"https://user:pass@host.example/p?token=secret": "https://host.example/p",
	} {
		if got := cleanRemote(in); got != want {
			t.Errorf("cleanRemote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGitHubEventPayloadErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(p, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := githubEnv()
	env["GITHUB_EVENT_PATH"] = p
	gh, _ := NewGitHub(WithEnv(env))
	if _, err := gh.Metadata(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "parsing GitHub event payload") {
		t.Errorf("Metadata(bad event) = %v", err)
	}
}

// CI_PIPELINE_URL and CI_JOB_URL have no claim: with a token, the URLs are
// built from the bound project, pipeline and job (as Fulcio's Run Invocation
// URI is), whatever the environment says.
func TestGitLabURLsFromClaims(t *testing.T) {
	env := gitlabEnv()
	env["CI_JOB_URL"] = "https://evil.example/grp/app/-/jobs/1"
	env["CI_PIPELINE_URL"] = "undefined/grp/app/-/pipelines/1"
	gl, _ := NewGitLab(WithEnv(env))
	md, err := gl.Metadata(context.Background(), token(t, gitlabClaims()))
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://gitlab.example.com/grp/app/-/jobs/9000"; md.JobURL != want {
		t.Errorf("JobURL = %q, want %q", md.JobURL, want)
	}
	if want := "https://gitlab.example.com/grp/app/-/pipelines/500"; md.RunURL != want {
		t.Errorf("RunURL = %q, want %q", md.RunURL, want)
	}
}
