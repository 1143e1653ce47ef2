package testbed

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// CI providers as Fulcio's configuration names them (the ci-provider field).
const (
	ProviderGitHub = "github-workflow"
	ProviderGitLab = "gitlab-pipeline"
)

// Issuer is an in-process OIDC identity provider on 127.0.0.1 that stands in for GitHub Actions'
// and GitLab's token services. It publishes discovery documents and a JWKS for two issuer URLs,
// GitHub (http://127.0.0.1:P/github) and GitLab (http://127.0.0.1:P/gitlab), both backed by one
// RSA key, and mints RS256 tokens for either.
type Issuer struct {
	// GitHub is the issuer URL of GitHub-Actions-shaped tokens; StartFulcio maps it to the
	// github-workflow CI provider.
	GitHub string
	// GitLab is the issuer URL of GitLab-shaped tokens; StartFulcio maps it to gitlab-pipeline.
	GitLab string

	t      testing.TB
	signer jose.Signer
}

// StartIssuer starts an OIDC issuer and stops it when the test ends.
func StartIssuer(t testing.TB) *Issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generating issuer key: %v", err)
	}
	kid := randomHex(t, 8)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		t.Fatalf("creating token signer: %v", err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: key.Public(), KeyID: kid, Algorithm: string(jose.RS256), Use: "sig",
	}}})
	if err != nil {
		t.Fatalf("encoding JWKS: %v", err)
	}

	iss := &Issuer{t: t, signer: signer}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss.GitHub = srv.URL + "/github"
	iss.GitLab = srv.URL + "/gitlab"
	for _, u := range []string{iss.GitHub, iss.GitLab} {
		path := strings.TrimPrefix(u, srv.URL)
		discovery, err := json.Marshal(map[string]any{
			"issuer":                                u,
			"jwks_uri":                              u + "/.well-known/jwks",
			"subject_types_supported":               []string{"public", "pairwise"},
			"response_types_supported":              []string{"id_token"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                      []string{"openid"},
			"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf"},
		})
		if err != nil {
			t.Fatalf("encoding discovery document: %v", err)
		}
		mux.HandleFunc("GET "+path+"/.well-known/openid-configuration", serveJSON(discovery))
		mux.HandleFunc("GET "+path+"/.well-known/jwks", serveJSON(jwks))
	}
	return iss
}

func serveJSON(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
}

// Providers maps each issuer URL to the Fulcio CI provider whose claim mapping applies to it.
func (i *Issuer) Providers() map[string]string {
	return map[string]string{i.GitHub: ProviderGitHub, i.GitLab: ProviderGitLab}
}

// Mint returns an RS256-signed JWT from issuer (normally i.GitHub or i.GitLab, but any string
// is signed, for negative tests). It sets iss, aud ("sigstore", the audience Fulcio expects),
// iat, nbf, exp (ten minutes ahead) and jti; entries in claims override them, so a test can mint
// an expired token or one for another audience. It fails the test that started the issuer if the
// claims cannot be encoded as JSON.
func (i *Issuer) Mint(issuer string, claims map[string]any) string {
	i.t.Helper()
	now := time.Now()
	all := map[string]any{
		"iss": issuer,
		"aud": "sigstore",
		"iat": now.Unix(),
		"nbf": now.Add(-5 * time.Second).Unix(),
		"exp": now.Add(10 * time.Minute).Unix(),
		"jti": randomHex(i.t, 16),
	}
	maps.Copy(all, claims)
	payload, err := json.Marshal(all)
	if err != nil {
		i.t.Fatalf("encoding claims: %v", err)
	}
	jws, err := i.signer.Sign(payload)
	if err != nil {
		i.t.Fatalf("signing token: %v", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		i.t.Fatalf("serializing token: %v", err)
	}
	return tok
}

// GitHubClaims returns the claims GitHub Actions puts into an ID token for a push to main of
// repository ("owner/name") whose workflow .github/workflows/release.yml runs on a GitHub-hosted
// runner. Every value is a string, as in real tokens. head_ref and base_ref are empty, as they are
// outside pull requests; environment is absent, as it is for jobs without an environment (add it,
// e.g. with GitHubClaimsWith, to model a deployment job). Fulcio needs every claim it maps to a
// certificate extension, so remove entries only in negative tests.
func GitHubClaims(repository string) map[string]any {
	owner, _, _ := strings.Cut(repository, "/")
	const (
		sha = "4f6c5c8e3b1d9a27f0e8d1c2b3a4958677a6b5c4"
		ref = "refs/heads/main"
	)
	workflowRef := repository + "/.github/workflows/release.yml@" + ref
	return map[string]any{
		"sub":                   "repo:" + repository + ":ref:" + ref,
		"repository":            repository,
		"repository_id":         "123456789",
		"repository_owner":      owner,
		"repository_owner_id":   "987654",
		"repository_visibility": "public",
		"ref":                   ref,
		"ref_type":              "branch",
		"ref_protected":         "true",
		"sha":                   sha,
		"workflow":              "release",
		"workflow_ref":          workflowRef,
		"workflow_sha":          sha,
		"job_workflow_ref":      workflowRef,
		"job_workflow_sha":      sha,
		"run_id":                "11223344556",
		"run_number":            "42",
		"run_attempt":           "1",
		"event_name":            "push",
		"runner_environment":    "github-hosted",
		"actor":                 owner,
		"actor_id":              "987654",
		"head_ref":              "",
		"base_ref":              "",
	}
}

// GitLabClaims returns the claims gitlab.com puts into an ID token for a branch pipeline on main
// of projectPath ("group/project") whose .gitlab-ci.yml runs on a GitLab-hosted runner. Values
// have the types real tokens have: IDs are strings except runner_id, which is a number.
// environment, environment_protected and deployment_tier are absent, as they are for jobs without
// an environment; add them (e.g. with GitLabClaimsWith) to model a deployment job.
func GitLabClaims(projectPath string) map[string]any {
	namespace := projectPath
	if i := strings.LastIndex(projectPath, "/"); i >= 0 {
		namespace = projectPath[:i]
	}
	const (
		sha = "8d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e"
		ref = "main"
	)
	return map[string]any{
		"sub":                "project_path:" + projectPath + ":ref_type:branch:ref:" + ref,
		"namespace_id":       "4455667",
		"namespace_path":     namespace,
		"project_id":         "7788990",
		"project_path":       projectPath,
		"user_id":            "1122334",
		"user_login":         "seal-dev",
		"user_email":         "seal-dev@example.com",
		"user_access_level":  "maintainer",
		"pipeline_id":        "1500000001",
		"pipeline_source":    "push",
		"job_id":             "8800000001",
		"ref":                ref,
		"ref_type":           "branch",
		"ref_path":           "refs/heads/" + ref,
		"ref_protected":      "true",
		"runner_id":          12270807,
		"runner_environment": "gitlab-hosted",
		"sha":                sha,
		"project_visibility": "public",
		"ci_config_ref_uri":  "gitlab.com/" + projectPath + "//.gitlab-ci.yml@refs/heads/" + ref,
		"ci_config_sha":      sha,
	}
}

// GitHubClaimsWith returns GitHubClaims(repository) with overrides applied.
func GitHubClaimsWith(repository string, overrides map[string]any) map[string]any {
	c := GitHubClaims(repository)
	maps.Copy(c, overrides)
	return c
}

// GitLabClaimsWith returns GitLabClaims(projectPath) with overrides applied.
func GitLabClaimsWith(projectPath string, overrides map[string]any) map[string]any {
	c := GitLabClaims(projectPath)
	maps.Copy(c, overrides)
	return c
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}
