package e2e

import (
	"testing"

	"github.com/sealsign/seal/internal/testbed"
)

// gitlabEnv is a GitLab CI job environment matching claims, with the token
// where the job's id_tokens puts it. CI_SERVER_URL is left out because the
// test issuer's URL is not gitlab.com (Fulcio writes https://gitlab.com
// into certificates, as the public instance does).
func (s *sigstore) gitlabEnv(claims map[string]any) []string {
	return []string{
		"GITLAB_CI=true", "CI_PROJECT_PATH=" + claims["project_path"].(string), "CI_COMMIT_SHA=" + claims["sha"].(string),
		"CI_COMMIT_REF_NAME=" + claims["ref"].(string), "CI_CONFIG_PATH=.gitlab-ci.yml", "CI_JOB_NAME=sign",
		"CI_PIPELINE_ID=" + claims["pipeline_id"].(string), "CI_JOB_ID=" + claims["job_id"].(string),
		"SIGSTORE_ID_TOKEN=" + s.issuer.Mint(s.issuer.GitLab, claims),
	}
}

// TestGitLabPipeline: a GitLab job signs with the token from id_tokens;
// the GitLab preset accepts it and refuses an unprotected ref or a
// self-hosted runner when asked to.
func TestGitLabPipeline(t *testing.T) {
	s := startSigstore(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	project := "acme-group/checkout"
	sign := func(t *testing.T, repo string, claims map[string]any) string {
		img := pushImage(t, reg.Host, repo)
		mustRun(t, s.gitlabEnv(claims), sealBin, "attest", "--sign", "--provenance", "--insecure-registry", reg.Host, "--no-tlog",
			"--fulcio-url", s.fulcio.URL, "--timestamp-url", s.tsa.TimestampURL(), img)
		return img
	}
	verifyArgs := func(extra ...string) []string {
		return append([]string{"verify", "--gitlab-project", project, "--certificate-oidc-issuer", s.issuer.GitLab,
			"--trusted-root", s.root, "--no-tlog", "--insecure-registry", reg.Host}, extra...)
	}
	good := sign(t, "gl/good", testbed.GitLabClaims(project))
	expectVerify(t, true, "", append(verifyArgs("--ref", "main", "--protected-ref-only", "--hosted-runners-only", "--attestation", "slsaprovenance1"), good)...)
	expectVerify(t, false, `certificate identity is "https://gitlab.com/acme-group/checkout//`, append([]string{"verify", "--gitlab-project", "acme-group/checkoutt",
		"--certificate-oidc-issuer", s.issuer.GitLab, "--trusted-root", s.root, "--no-tlog", "--insecure-registry", reg.Host}, good)...)

	unprotected := sign(t, "gl/unprotected", testbed.GitLabClaimsWith(project, map[string]any{
		"ref": "feature-x", "ref_path": "refs/heads/feature-x", "ref_protected": "false",
		"ci_config_ref_uri": "gitlab.com/" + project + "//.gitlab-ci.yml@refs/heads/feature-x"}))
	expectVerify(t, true, "", append(verifyArgs(), unprotected)...)
	expectVerify(t, false, "does not show a protected ref", append(verifyArgs("--protected-ref-only"), unprotected)...)

	selfHosted := sign(t, "gl/self-hosted", testbed.GitLabClaimsWith(project, map[string]any{"runner_environment": "self-hosted"}))
	expectVerify(t, false, `runner environment is "self-hosted", want "gitlab-hosted"`, append(verifyArgs("--hosted-runners-only"), selfHosted)...)
}
