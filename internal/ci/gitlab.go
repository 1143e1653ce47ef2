package ci

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sealsign/seal/internal/oidc"
)

// GitLab is the GitLab CI provider. Its token is the one the job's
// `id_tokens:` keyword writes to an environment variable.
type GitLab struct{ o *options }

// NewGitLab returns the GitLab CI provider regardless of detection.
func NewGitLab(opts ...Option) (*GitLab, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return &GitLab{o: o}, nil
}

// Name is "gitlab".
func (*GitLab) Name() string { return "gitlab" }

// TokenSource reads the id_tokens variable (SIGSTORE_ID_TOKEN by default).
func (g *GitLab) TokenSource() oidc.Source {
	name := g.o.tokenEnv
	return oidc.SourceFunc(func(ctx context.Context, aud string) (*oidc.Token, error) {
		t, err := oidc.Env{Name: name, Lookup: g.o.lookup}.Token(ctx, aud)
		if errors.Is(err, oidc.ErrNoToken) {
			return nil, fmt.Errorf("%w: $%s is not set; add `id_tokens: { %s: { aud: %s } }` to the job", oidc.ErrNoToken, name, name, aud)
		}
		return t, err
	})
}

// Metadata reads CI_* variables, then binds them to tok's claims.
func (g *GitLab) Metadata(_ context.Context, tok *oidc.Token) (*Metadata, error) {
	e := g.o.env
	m := &Metadata{
		Provider:      "gitlab",
		ServerURL:     strings.TrimSuffix(e("CI_SERVER_URL"), "/"),
		Repository:    e("CI_PROJECT_PATH"),
		RepositoryID:  e("CI_PROJECT_ID"),
		Owner:         e("CI_PROJECT_NAMESPACE"),
		OwnerID:       e("CI_PROJECT_NAMESPACE_ID"),
		Visibility:    e("CI_PROJECT_VISIBILITY"),
		Commit:        e("CI_COMMIT_SHA"),
		RefProtected:  e("CI_COMMIT_REF_PROTECTED"),
		HeadRef:       e("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"),
		BaseRef:       e("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
		RunID:         e("CI_PIPELINE_ID"),
		RunNumber:     e("CI_PIPELINE_IID"),
		RunURL:        e("CI_PIPELINE_URL"),
		JobID:         e("CI_JOB_ID"),
		JobName:       e("CI_JOB_NAME"),
		JobURL:        e("CI_JOB_URL"),
		Event:         e("CI_PIPELINE_SOURCE"),
		Actor:         e("GITLAB_USER_LOGIN"),
		Environment:   e("CI_ENVIRONMENT_NAME"),
		RunnerID:      e("CI_RUNNER_ID"),
		RunnerName:    e("CI_RUNNER_DESCRIPTION"),
		RunnerArch:    e("CI_RUNNER_EXECUTABLE_ARCH"),
		RunnerVersion: e("CI_RUNNER_VERSION"),
		StartedOn:     g.o.now().UTC(),
	}
	if t, err := time.Parse(time.RFC3339, e("CI_JOB_STARTED_AT")); err == nil {
		m.StartedOn = t.UTC()
	}
	if m.ServerURL == "" {
		m.ServerURL = "https://gitlab.com"
	}
	host := serverHost(m.ServerURL)
	refName := e("CI_COMMIT_REF_NAME")
	m.RefType = "branch"
	if e("CI_COMMIT_TAG") != "" {
		m.RefType = "tag"
	}
	if refName == "" {
		m.RefType = ""
	}
	// CI_CONFIG_PATH is "file" or, for configuration kept in another
	// project, "file@group/project[:ref]".
	cfgPath, cfgProject, cfgRef := splitConfigPath(e("CI_CONFIG_PATH"))
	m.ConfigPath = cfgPath
	m.VariableNames = variableNames(g.o)

	if tok != nil {
		c := tok.Claims
		var runnerEnv, cfgRefURI, cfgSHA, refPath string
		err := bind(c, []binding{
			{"project", "CI_PROJECT_PATH", "project_path", &m.Repository},
			{"project id", "CI_PROJECT_ID", "project_id", &m.RepositoryID},
			{"namespace", "CI_PROJECT_NAMESPACE", "namespace_path", &m.Owner},
			{"namespace id", "CI_PROJECT_NAMESPACE_ID", "namespace_id", &m.OwnerID},
			{"project visibility", "CI_PROJECT_VISIBILITY", "project_visibility", &m.Visibility},
			{"commit", "CI_COMMIT_SHA", "sha", &m.Commit},
			{"ref", "CI_COMMIT_REF_NAME", "ref", &refName},
			{"ref type", "CI_COMMIT_TAG", "ref_type", &m.RefType},
			{"ref protected", "CI_COMMIT_REF_PROTECTED", "ref_protected", &m.RefProtected},
			{"pipeline id", "CI_PIPELINE_ID", "pipeline_id", &m.RunID},
			{"pipeline source", "CI_PIPELINE_SOURCE", "pipeline_source", &m.Event},
			{"job id", "CI_JOB_ID", "job_id", &m.JobID},
			{"runner id", "CI_RUNNER_ID", "runner_id", &m.RunnerID},
			{"user", "GITLAB_USER_LOGIN", "user_login", &m.Actor},
			{"environment", "CI_ENVIRONMENT_NAME", "environment", &m.Environment},
			// Claims without an environment twin.
			{"runner environment", "", "runner_environment", &runnerEnv},
			{"ci config ref uri", "", "ci_config_ref_uri", &cfgRefURI},
			{"ci config sha", "", "ci_config_sha", &cfgSHA},
			{"ref path", "", "ref_path", &refPath},
		})
		if err != nil {
			return nil, err
		}
		if iss := c.Issuer(); iss != "" && e("CI_SERVER_URL") != "" && strings.TrimSuffix(iss, "/") != m.ServerURL {
			return nil, &MismatchError{Mismatches: []Mismatch{{Field: "server", Env: "CI_SERVER_URL", EnvValue: m.ServerURL, Claim: "iss", ClaimValue: iss}}}
		}
		m.RunnerEnvironment = runnerEnv
		m.Issuer = c.Issuer()
		m.Bound = true
		// CI_PIPELINE_URL and CI_JOB_URL have no claim: build them from the
		// bound project, pipeline and job, as GitLab and Fulcio's Run
		// Invocation URI do, rather than carry unbound values.
		m.RunURL, m.JobURL = "", ""
		if refPath != "" {
			m.Ref = refPath
		}
		if cfgRefURI != "" {
			m.ConfigRef, m.ConfigSHA = cfgRefURI, cfgSHA
			if p := configPathFromURI(cfgRefURI); p != "" {
				m.ConfigPath = p
			}
		} else {
			m.Notes = append(m.Notes, "the identity token has no ci_config_ref_uri claim (GitLab leaves it out when the CI configuration comes from another project, and for child pipelines): the CI configuration is named from $CI_CONFIG_PATH instead and is not bound to the token; verifiers pinning the Build Signer URI will not match this job")
		}
	} else {
		m.Notes = append(m.Notes, "no identity token: metadata comes from the environment only and is not bound to token claims (add `id_tokens: { SIGSTORE_ID_TOKEN: { aud: sigstore } }` to the job)")
	}
	if m.Ref == "" && refName != "" {
		switch m.RefType {
		case "tag":
			m.Ref = "refs/tags/" + refName
		case "branch":
			m.Ref = "refs/heads/" + refName
		default:
			m.Ref = refName
		}
	}
	if m.ConfigRef == "" && m.ConfigPath != "" {
		// Documented fallback: host/project//path@ref, from the environment.
		proj, ref := m.Repository, m.Ref
		if cfgProject != "" {
			// The ref is kept as written: it may name a branch or a tag.
			proj, ref = cfgProject, cfgRef
		}
		if proj != "" {
			m.ConfigRef = host + "/" + proj + "//" + m.ConfigPath
			if ref != "" {
				m.ConfigRef += "@" + ref
			}
		}
	}
	m.BuilderRef, m.BuilderSHA = m.ConfigRef, m.ConfigSHA
	if m.Repository != "" {
		m.RepositoryURL = m.ServerURL + "/" + m.Repository
		if m.RunURL == "" && m.RunID != "" {
			m.RunURL = m.RepositoryURL + "/-/pipelines/" + m.RunID
		}
		if m.JobURL == "" && m.JobID != "" {
			m.JobURL = m.RepositoryURL + "/-/jobs/" + m.JobID
		}
	}
	return m, nil
}

func serverHost(u string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	return h
}

func splitConfigPath(p string) (path, project, ref string) {
	path, rest, ok := strings.Cut(p, "@")
	if !ok {
		return p, "", ""
	}
	project, ref, _ = strings.Cut(rest, ":")
	return path, project, ref
}

// configPathFromURI cuts ".gitlab-ci.yml" out of
// "gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main".
func configPathFromURI(uri string) string {
	p, _, _ := strings.Cut(uri, "@")
	if _, after, ok := strings.Cut(p, "//"); ok {
		return after
	}
	return ""
}

// osVariables are process and shell variables that are not the job's
// CI/CD variables.
var osVariables = map[string]bool{
	"PATH": true, "HOME": true, "HOSTNAME": true, "PWD": true, "OLDPWD": true, "SHLVL": true, "_": true,
	"TERM": true, "USER": true, "LOGNAME": true, "SHELL": true, "LANG": true, "TMPDIR": true,
}

// variableNames lists the job's variable names, never values.
func variableNames(o *options) []string {
	var names []string
	for _, kv := range o.environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "" || osVariables[k] || strings.HasPrefix(k, "LC_") {
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
