package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sealsign/seal/internal/testbed"
)

// These tests attack `seal verify` with provenance a job hand-writes and
// attests with its own, legitimate certificate (`seal attest --predicate`,
// as `cosign attest` would): every provenance field the certificate also
// carries must agree with it, and the provenance checks a deployer pins
// must hold in the certificate where it carries the field.

const zeroSubject = "x@sha256:0000000000000000000000000000000000000000000000000000000000000000"

// githubJobEnv is a GitHub Actions job environment agreeing with claims.
func githubJobEnv(claims map[string]any) []string {
	return []string{
		"GITHUB_ACTIONS=true", "GITHUB_SERVER_URL=https://github.com",
		"GITHUB_REPOSITORY=" + claims["repository"].(string), "GITHUB_SHA=" + claims["sha"].(string),
		"GITHUB_REF=" + claims["ref"].(string), "RUNNER_ENVIRONMENT=" + claims["runner_environment"].(string),
		"GITHUB_RUN_ID=" + claims["run_id"].(string), "GITHUB_EVENT_NAME=" + claims["event_name"].(string),
	}
}

// honestPredicate is the provenance predicate Seal writes in the job the
// claims describe, decoded for editing.
func (s *sigstore) honestPredicate(t *testing.T, ci string, claims map[string]any, slsa string) map[string]any {
	t.Helper()
	out := filepath.Join(t.TempDir(), "provenance.json")
	args := []string{"provenance", "--predicate-only", "--slsa-version", slsa, "-o", out, "--subject", zeroSubject}
	var env []string
	if ci == "gitlab" {
		env = s.gitlabEnv(claims)
	} else {
		env = githubJobEnv(claims)
		args = append(args, "--identity-token", s.issuer.Mint(s.issuer.GitHub, claims))
	}
	mustRun(t, env, sealBin, args...)
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// setPath sets a dotted path ("a.b.0.c") in decoded JSON, creating objects.
func setPath(t *testing.T, doc map[string]any, path string, v any) {
	t.Helper()
	var cur any = doc
	parts := strings.Split(path, ".")
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[p] = v
				return
			}
			if _, ok := c[p]; !ok {
				c[p] = map[string]any{}
			}
			cur = c[p]
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n >= len(c) {
				t.Fatalf("path %s: no element %s", path, p)
			}
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		default:
			t.Fatalf("path %s: %s is not an object or array", path, p)
		}
	}
}

func writePredicate(t *testing.T, p map[string]any) string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, t.TempDir(), "predicate.json", string(b))
}

// attestPredicate signs img and attests predicate (a file) as SLSA v1 or
// v0.2 provenance in the job the claims describe.
func (s *sigstore) attestPredicate(t *testing.T, host, img, format, ci string, claims map[string]any, predicate, slsa string) {
	t.Helper()
	typ := map[string]string{"1": "slsaprovenance1", "0.2": "slsaprovenance02"}[slsa]
	if ci == "github" {
		s.keylessRun(t, host, img, format, claims, "--sign", "--predicate", predicate, "--type", typ)
		return
	}
	mustRun(t, s.gitlabEnv(claims), sealBin, "attest", "--format", format, "--insecure-registry", host, "--no-tlog",
		"--fulcio-url", s.fulcio.URL, "--timestamp-url", s.tsa.TimestampURL(), "--sign", "--predicate", predicate, "--type", typ, img)
}

const gitlabProject = "acme-group/checkout"

func (s *sigstore) gitlabVerifyArgs(host string, extra ...string) []string {
	return append([]string{"verify", "--gitlab-project", gitlabProject, "--certificate-oidc-issuer", s.issuer.GitLab,
		"--trusted-root", s.root, "--no-tlog", "--insecure-registry", host}, extra...)
}

// TestForgedProtectedRef is the attack of issue 10, item 2: a GitLab job
// on an unprotected branch (its certificate says refs/heads/feature-x)
// attests provenance it wrote itself, claiming refs/heads/main and a
// protected ref. --source-ref and --protected-ref-only must not take the
// provenance's word over the certificate's.
func TestForgedProtectedRef(t *testing.T) {
	s := startSigstore(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	feature := testbed.GitLabClaimsWith(gitlabProject, map[string]any{
		"ref": "feature-x", "ref_path": "refs/heads/feature-x", "ref_protected": "false",
		"ci_config_ref_uri": "gitlab.com/" + gitlabProject + "//.gitlab-ci.yml@refs/heads/feature-x"})
	// What a job on main writes, word for word: the attacker copies it.
	forged := s.honestPredicate(t, "gitlab", testbed.GitLabClaims(gitlabProject), "1")
	setPath(t, forged, "buildDefinition.internalParameters.gitlab.ref_protected", "true")
	forgedFile := writePredicate(t, forged)
	// The same job claiming only what is true but the protection.
	consistent := s.honestPredicate(t, "gitlab", feature, "1")
	setPath(t, consistent, "buildDefinition.internalParameters.gitlab.ref_protected", "true")
	consistentFile := writePredicate(t, consistent)

	for _, format := range []string{"bundle", "legacy"} {
		t.Run(format, func(t *testing.T) {
			img := pushImage(t, reg.Host, "forged-ref-"+format)
			s.attestPredicate(t, reg.Host, img, format, "gitlab", feature, forgedFile, "1")
			t.Run("source-ref", func(t *testing.T) {
				expectVerify(t, false, `source ref "refs/heads/main"`, append(s.gitlabVerifyArgs(reg.Host, "--source-ref", "main"), img)...)
			})
			t.Run("protected-ref-only", func(t *testing.T) {
				expectVerify(t, false, `source ref "refs/heads/main"`, append(s.gitlabVerifyArgs(reg.Host, "--protected-ref-only"), img)...)
			})
			t.Run("attestation only", func(t *testing.T) {
				expectVerify(t, false, "but the signer's certificate was issued for", append(s.gitlabVerifyArgs(reg.Host, "--attestation", "slsaprovenance1"), img)...)
			})
			// What no certificate can refute: the job's own ref, called
			// protected. --protected-ref-only rests on the signer's word, and
			// says so; pinning the ref (--ref, checked in the certificate)
			// refuses it.
			t.Run("ref_protected alone rests on the signer's claim", func(t *testing.T) {
				img := pushImage(t, reg.Host, "claimed-protected-"+format)
				s.attestPredicate(t, reg.Host, img, format, "gitlab", feature, consistentFile, "1")
				out := mustRun(t, nil, sealBin, append(s.gitlabVerifyArgs(reg.Host, "--protected-ref-only"), img)...)
				if !strings.Contains(out, "rests on the signer's own claim") {
					t.Errorf("seal verify --protected-ref-only does not say the protection is the signer's claim:\n%s", out)
				}
				expectVerify(t, false, `@refs/heads/feature-x", which does not match`,
					append(s.gitlabVerifyArgs(reg.Host, "--protected-ref-only", "--ref", "main"), img)...)
			})
		})
	}
}

// crossCheck is one provenance field the certificate also carries.
type crossCheck struct {
	path, value string // the forged field and the value written there
	want        string // what the refusal names
}

// TestProvenanceCrossChecks: for every provenance field the Fulcio
// certificate also carries, provenance that disagrees with its signer's
// certificate is refused, naming the field; the job's honest provenance,
// attested the same way, passes.
func TestProvenanceCrossChecks(t *testing.T) {
	s := startSigstore(t)
	reg := testbed.StartRegistry(t, testbed.Olareg)
	bd, rd := "buildDefinition.", "runDetails."
	cases := map[string]struct {
		claims map[string]any
		verify []string
		checks []crossCheck
	}{
		"github": {
			claims: testbed.GitHubClaims(s.githubRepo),
			verify: s.verifyArgs(reg.Host, "--github-repo", s.githubRepo),
			checks: []crossCheck{
				{bd + "resolvedDependencies.0.uri", "git+https://github.com/acme/payments@refs/heads/other", "source ref"},
				{bd + "externalParameters.workflow.ref", "refs/heads/other", "source ref"},
				{bd + "externalParameters.workflow.repository", "https://github.com/acme/other", "source repository"},
				{bd + "externalParameters.workflow.path", ".github/workflows/other.yml", "workflow path"},
				{rd + "builder.id", "https://github.com/acme/payments/.github/workflows/other.yml@refs/heads/main", "builder"},
				{bd + "internalParameters.github.event_name", "workflow_dispatch", "trigger"},
				{bd + "internalParameters.github.runner_environment", "self-hosted", "runner environment"},
				{bd + "internalParameters.github.repository_id", "1", "repository id"},
				{bd + "internalParameters.github.repository_owner_id", "1", "owner id"},
				{rd + "metadata.invocationId", "https://github.com/acme/payments/actions/runs/1/attempts/1", "invocation"},
			},
		},
		"gitlab": {
			claims: testbed.GitLabClaims(gitlabProject),
			verify: s.gitlabVerifyArgs(reg.Host),
			checks: []crossCheck{
				{bd + "resolvedDependencies.0.uri", "git+https://gitlab.com/acme-group/checkout@refs/heads/other", "source ref"},
				{bd + "externalParameters.ref", "refs/heads/other", "source ref"},
				{bd + "externalParameters.source", "https://gitlab.com/acme-group/other", "source repository"},
				{bd + "externalParameters.configSource.uri", "https://gitlab.com/acme-group/checkout//other.yml@refs/heads/main", "build config"},
				{bd + "externalParameters.configSource.digest.gitCommit", strings.Repeat("f", 40), "build config digest"},
				{bd + "externalParameters.pipelineSource", "schedule", "trigger"},
				{rd + "builder.id", "https://gitlab.com/acme-group/checkout//other.yml@refs/heads/main", "builder"},
				{bd + "internalParameters.gitlab.runner_environment", "self-hosted", "runner environment"},
				{bd + "internalParameters.gitlab.project_id", "1", "repository id"},
				{bd + "internalParameters.gitlab.namespace_id", "1", "owner id"},
				{bd + "internalParameters.gitlab.namespace_path", "other-group", "owner"},
				{bd + "internalParameters.gitlab.project_visibility", "private", "visibility"},
				{bd + "internalParameters.gitlab.ref_type", "tag", "ref type"},
				{bd + "internalParameters.gitlab.job_id", "1", "job"},
				{rd + "metadata.invocationId", "https://gitlab.com/acme-group/checkout/-/jobs/1", "invocation"},
			},
		},
	}
	for _, ci := range []string{"github", "gitlab"} {
		tc := cases[ci]
		t.Run(ci, func(t *testing.T) {
			verifyArgs := func(img string) []string {
				return slices.Concat(tc.verify, []string{"--attestation", "slsaprovenance1", img})
			}
			honest := writePredicate(t, s.honestPredicate(t, ci, tc.claims, "1"))
			img := pushImage(t, reg.Host, ci+"-honest")
			s.attestPredicate(t, reg.Host, img, "bundle", ci, tc.claims, honest, "1")
			expectVerify(t, true, "", verifyArgs(img)...)
			for i, c := range tc.checks {
				t.Run(c.path, func(t *testing.T) {
					p := s.honestPredicate(t, ci, tc.claims, "1")
					setPath(t, p, c.path, c.value)
					img := pushImage(t, reg.Host, ci+"-forged-"+strconv.Itoa(i))
					s.attestPredicate(t, reg.Host, img, "bundle", ci, tc.claims, writePredicate(t, p), "1")
					expectVerify(t, false, "provenance names "+c.want, verifyArgs(img)...)
				})
			}
		})
	}
	// SLSA v0.2 keeps the same facts elsewhere.
	t.Run("github v0.2", func(t *testing.T) {
		claims := testbed.GitHubClaims(s.githubRepo)
		verifyArgs := func(img string) []string {
			return append(s.verifyArgs(reg.Host, "--github-repo", s.githubRepo, "--attestation", "slsaprovenance"), img)
		}
		honest := writePredicate(t, s.honestPredicate(t, "github", claims, "0.2"))
		img := pushImage(t, reg.Host, "github-v02-honest")
		s.attestPredicate(t, reg.Host, img, "legacy", "github", claims, honest, "0.2")
		expectVerify(t, true, "", verifyArgs(img)...)
		for i, c := range []crossCheck{
			{"materials.0.uri", "git+https://github.com/acme/payments@refs/heads/other", "source ref"},
			{"invocation.configSource.uri", "git+https://github.com/acme/payments@refs/heads/other", "source ref"},
			{"invocation.configSource.digest.sha1", strings.Repeat("f", 40), "build config digest"},
			{"invocation.environment.github.event_name", "workflow_dispatch", "trigger"},
			{"builder.id", "https://github.com/acme/payments/.github/workflows/other.yml@refs/heads/main", "builder"},
			{"metadata.buildInvocationId", "https://github.com/acme/payments/actions/runs/1/attempts/1", "invocation"},
		} {
			t.Run(c.path, func(t *testing.T) {
				p := s.honestPredicate(t, "github", claims, "0.2")
				setPath(t, p, c.path, c.value)
				img := pushImage(t, reg.Host, "github-v02-forged-"+strconv.Itoa(i))
				s.attestPredicate(t, reg.Host, img, "legacy", "github", claims, writePredicate(t, p), "0.2")
				expectVerify(t, false, "provenance names "+c.want, verifyArgs(img)...)
			})
		}
	})
}

// TestPinnedFactsInCertificate: --source-ref and --builder-id hold in the
// signer's certificate, not only in the provenance it signed; --source-repo
// too. A job on refs/heads/feature whose provenance claims main is refused
// by the certificate even when nothing else is pinned.
func TestPinnedFactsInCertificate(t *testing.T) {
	s := startSigstore(t)
	reg := testbed.StartRegistry(t, testbed.Distribution)
	feature := testbed.GitHubClaimsWith(s.githubRepo, map[string]any{
		"ref": "refs/heads/feature", "ref_protected": "false",
		"workflow_ref":     s.githubRepo + "/.github/workflows/release.yml@refs/heads/feature",
		"job_workflow_ref": s.githubRepo + "/.github/workflows/release.yml@refs/heads/feature"})
	// The provenance a job on main writes, attested by the job on feature.
	claimsMain := writePredicate(t, s.honestPredicate(t, "github", testbed.GitHubClaims(s.githubRepo), "1"))
	mainBuilder := "https://github.com/" + s.githubRepo + "/.github/workflows/release.yml@refs/heads/main"
	for _, format := range []string{"bundle", "legacy"} {
		t.Run(format, func(t *testing.T) {
			img := pushImage(t, reg.Host, "pinned-"+format)
			s.attestPredicate(t, reg.Host, img, format, "github", feature, claimsMain, "1")
			preset := []string{"--github-repo", s.githubRepo}
			t.Run("source-ref", func(t *testing.T) {
				expectVerify(t, false, `source ref "refs/heads/main"`, append(s.verifyArgs(reg.Host, append(preset, "--source-ref", "main")...), img)...)
			})
			t.Run("builder-id", func(t *testing.T) {
				expectVerify(t, false, `builder "`+mainBuilder+`"`, append(s.verifyArgs(reg.Host, append(preset, "--builder-id", mainBuilder)...), img)...)
			})
		})
	}
}

// TestTriggersAndIDs (issue 10, item 6): certificates of
// pull_request_target and workflow_run runs, which execute with the base
// repository's token on behalf of code or events an outsider controls, are
// refused by the GitHub preset unless --allow-trigger names them; numeric
// repository and owner ids pin a repository that was renamed, deleted and
// re-created under the same name by someone else.
func TestTriggersAndIDs(t *testing.T) {
	s := startSigstore(t)
	reg := testbed.StartRegistry(t, testbed.Olareg)
	preset := []string{"--github-repo", s.githubRepo}
	t.Run("triggers", func(t *testing.T) {
		for _, trig := range []string{"pull_request_target", "workflow_run"} {
			t.Run(trig, func(t *testing.T) {
				img := pushImage(t, reg.Host, "trigger-"+trig)
				s.keylessSign(t, reg.Host, img, "bundle", testbed.GitHubClaimsWith(s.githubRepo, map[string]any{"event_name": trig}))
				expectVerify(t, false, `build trigger is "`+trig+`"`, append(s.verifyArgs(reg.Host, preset...), img)...)
				expectVerify(t, true, "", append(s.verifyArgs(reg.Host, append(preset, "--allow-trigger", trig)...), img)...)
			})
		}
		img := pushImage(t, reg.Host, "trigger-push")
		s.keylessSign(t, reg.Host, img, "legacy", testbed.GitHubClaims(s.githubRepo))
		expectVerify(t, true, "", append(s.verifyArgs(reg.Host, preset...), img)...)
	})
	t.Run("github ids", func(t *testing.T) {
		good := pushImage(t, reg.Host, "ids-good")
		s.keylessSign(t, reg.Host, good, "bundle", testbed.GitHubClaims(s.githubRepo))
		// acme renamed, and an attacker registered the name again.
		taken := pushImage(t, reg.Host, "ids-taken")
		s.keylessSign(t, reg.Host, taken, "bundle", testbed.GitHubClaimsWith(s.githubRepo, map[string]any{"repository_id": "555", "repository_owner_id": "666"}))
		// Names alone cannot tell the two apart.
		expectVerify(t, true, "", append(s.verifyArgs(reg.Host, preset...), taken)...)
		ids := append(preset, "--github-repo-id", "123456789", "--github-owner-id", "987654")
		expectVerify(t, true, "", append(s.verifyArgs(reg.Host, ids...), good)...)
		expectVerify(t, false, `certificate source repository identifier is "555", want "123456789"`, append(s.verifyArgs(reg.Host, append(preset, "--github-repo-id", "123456789")...), taken)...)
		expectVerify(t, false, `certificate source repository owner identifier is "666", want "987654"`, append(s.verifyArgs(reg.Host, append(preset, "--github-owner-id", "987654")...), taken)...)
	})
	t.Run("gitlab ids", func(t *testing.T) {
		sign := func(repo string, claims map[string]any) string {
			img := pushImage(t, reg.Host, repo)
			mustRun(t, s.gitlabEnv(claims), sealBin, "attest", "--sign", "--insecure-registry", reg.Host, "--no-tlog",
				"--fulcio-url", s.fulcio.URL, "--timestamp-url", s.tsa.TimestampURL(), img)
			return img
		}
		good := sign("gl-ids-good", testbed.GitLabClaims(gitlabProject))
		taken := sign("gl-ids-taken", testbed.GitLabClaimsWith(gitlabProject, map[string]any{"project_id": "555", "namespace_id": "666"}))
		expectVerify(t, true, "", append(s.gitlabVerifyArgs(reg.Host), taken)...)
		ids := []string{"--gitlab-project-id", "7788990", "--gitlab-namespace-id", "4455667"}
		expectVerify(t, true, "", append(s.gitlabVerifyArgs(reg.Host, ids...), good)...)
		expectVerify(t, false, `certificate source repository identifier is "555", want "7788990"`, append(s.gitlabVerifyArgs(reg.Host, "--gitlab-project-id", "7788990"), taken)...)
		expectVerify(t, false, `certificate source repository owner identifier is "666", want "4455667"`, append(s.gitlabVerifyArgs(reg.Host, "--gitlab-namespace-id", "4455667"), taken)...)
	})
}
