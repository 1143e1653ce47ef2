package ci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/sealsign/seal/internal/limits"
	"github.com/sealsign/seal/internal/oidc"
)

// GitHub is the GitHub Actions provider.
type GitHub struct{ o *options }

// NewGitHub returns the GitHub Actions provider regardless of detection.
func NewGitHub(opts ...Option) (*GitHub, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return &GitHub{o: o}, nil
}

// Name is "github".
func (*GitHub) Name() string { return "github" }

// TokenSource requests tokens from the Actions OIDC endpoint; the job needs
// `permissions: id-token: write`.
func (g *GitHub) TokenSource() oidc.Source {
	src := oidc.Actions{
		URL:          g.o.env("ACTIONS_ID_TOKEN_REQUEST_URL"),
		RequestToken: g.o.env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
		Transport:    g.o.transport,
	}
	return oidc.SourceFunc(func(ctx context.Context, aud string) (*oidc.Token, error) {
		t, err := src.Token(ctx, aud)
		if err == nil && g.o.mask != nil {
			g.o.mask(t.Raw)
		}
		return t, err
	})
}

// Metadata reads GITHUB_* variables and the event payload, then binds them
// to tok's claims.
func (g *GitHub) Metadata(_ context.Context, tok *oidc.Token) (*Metadata, error) {
	e := g.o.env
	m := &Metadata{
		Provider:          "github",
		ServerURL:         strings.TrimSuffix(e("GITHUB_SERVER_URL"), "/"),
		Repository:        e("GITHUB_REPOSITORY"),
		RepositoryID:      e("GITHUB_REPOSITORY_ID"),
		Owner:             e("GITHUB_REPOSITORY_OWNER"),
		OwnerID:           e("GITHUB_REPOSITORY_OWNER_ID"),
		Commit:            e("GITHUB_SHA"),
		Ref:               e("GITHUB_REF"),
		RefType:           e("GITHUB_REF_TYPE"),
		HeadRef:           e("GITHUB_HEAD_REF"),
		BaseRef:           e("GITHUB_BASE_REF"),
		ConfigRef:         e("GITHUB_WORKFLOW_REF"),
		ConfigSHA:         e("GITHUB_WORKFLOW_SHA"),
		RunID:             e("GITHUB_RUN_ID"),
		RunNumber:         e("GITHUB_RUN_NUMBER"),
		RunAttempt:        e("GITHUB_RUN_ATTEMPT"),
		JobName:           e("GITHUB_JOB"),
		Event:             e("GITHUB_EVENT_NAME"),
		Actor:             e("GITHUB_ACTOR"),
		RunnerEnvironment: e("RUNNER_ENVIRONMENT"),
		RunnerName:        e("RUNNER_NAME"),
		RunnerOS:          e("RUNNER_OS"),
		RunnerArch:        e("RUNNER_ARCH"),
		StartedOn:         g.o.now().UTC(),
	}
	if m.ServerURL == "" {
		m.ServerURL = "https://github.com"
	}
	ev, err := readEvent(e("GITHUB_EVENT_PATH"))
	if err != nil {
		return nil, err
	}
	if m.Event == "workflow_dispatch" && len(ev.Inputs) > 0 {
		m.Inputs = ev.Inputs
	}
	m.Visibility = ev.Repository.Visibility

	if tok != nil {
		c := tok.Claims
		var jobWorkflowRef, jobWorkflowSHA, env string
		err := bind(c, []binding{
			{"repository", "GITHUB_REPOSITORY", "repository", &m.Repository},
			{"repository id", "GITHUB_REPOSITORY_ID", "repository_id", &m.RepositoryID},
			{"repository owner", "GITHUB_REPOSITORY_OWNER", "repository_owner", &m.Owner},
			{"repository owner id", "GITHUB_REPOSITORY_OWNER_ID", "repository_owner_id", &m.OwnerID},
			{"commit", "GITHUB_SHA", "sha", &m.Commit},
			{"ref", "GITHUB_REF", "ref", &m.Ref},
			{"ref type", "GITHUB_REF_TYPE", "ref_type", &m.RefType},
			{"head ref", "GITHUB_HEAD_REF", "head_ref", &m.HeadRef},
			{"base ref", "GITHUB_BASE_REF", "base_ref", &m.BaseRef},
			{"workflow ref", "GITHUB_WORKFLOW_REF", "workflow_ref", &m.ConfigRef},
			{"workflow sha", "GITHUB_WORKFLOW_SHA", "workflow_sha", &m.ConfigSHA},
			{"run id", "GITHUB_RUN_ID", "run_id", &m.RunID},
			{"run number", "GITHUB_RUN_NUMBER", "run_number", &m.RunNumber},
			{"run attempt", "GITHUB_RUN_ATTEMPT", "run_attempt", &m.RunAttempt},
			{"event", "GITHUB_EVENT_NAME", "event_name", &m.Event},
			{"actor", "GITHUB_ACTOR", "actor", &m.Actor},
			{"runner environment", "RUNNER_ENVIRONMENT", "runner_environment", &m.RunnerEnvironment},
			{"repository visibility", "GITHUB_EVENT_PATH (repository.visibility)", "repository_visibility", &m.Visibility},
			// Claims without an environment twin.
			{"job workflow ref", "", "job_workflow_ref", &jobWorkflowRef},
			{"job workflow sha", "", "job_workflow_sha", &jobWorkflowSHA},
			{"environment", "", "environment", &env},
		})
		if err != nil {
			return nil, err
		}
		m.BuilderRef, m.BuilderSHA, m.Environment = jobWorkflowRef, jobWorkflowSHA, env
		m.Issuer = c.Issuer()
		m.Bound = true
	} else {
		m.Notes = append(m.Notes, "no identity token: metadata comes from the environment only and is not bound to token claims (give the job `permissions: id-token: write`)")
	}
	if m.BuilderRef == "" {
		// Without a token the top-level workflow is the best we know.
		m.BuilderRef, m.BuilderSHA = m.ConfigRef, m.ConfigSHA
	}
	m.ConfigPath = workflowPath(m.ConfigRef, m.Repository)
	if m.Repository != "" {
		m.RepositoryURL = m.ServerURL + "/" + m.Repository
		if m.RunID != "" {
			m.RunURL = m.RepositoryURL + "/actions/runs/" + m.RunID
			if m.RunAttempt != "" {
				m.RunURL += "/attempts/" + m.RunAttempt
			}
		}
	}
	if m.RefType == "" {
		m.RefType = refType(m.Ref)
	}
	return m, nil
}

// workflowPath cuts ".github/workflows/x.yml" out of
// "owner/repo/.github/workflows/x.yml@refs/heads/main".
func workflowPath(ref, repo string) string {
	p, _, _ := strings.Cut(ref, "@")
	if repo != "" && strings.HasPrefix(p, repo+"/") {
		return strings.TrimPrefix(p, repo+"/")
	}
	// owner/repo/path: drop the first two segments.
	if parts := strings.SplitN(p, "/", 3); len(parts) == 3 {
		return parts[2]
	}
	return ""
}

func refType(ref string) string {
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		return "branch"
	case strings.HasPrefix(ref, "refs/tags/"):
		return "tag"
	}
	return ""
}

// event is the part of $GITHUB_EVENT_PATH Seal reads. The payload holds
// much more (commit messages, user details): it is deliberately not kept.
type event struct {
	Inputs     map[string]any `json:"inputs"`
	Repository struct {
		Visibility string `json:"visibility"`
	} `json:"repository"`
}

func readEvent(path string) (*event, error) {
	ev := &event{}
	if path == "" {
		return ev, nil
	}
	b, err := limits.ReadFile("GITHUB_EVENT_PATH", path, limits.Event, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return ev, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading GitHub event payload: %w", err)
	}
	if err := json.Unmarshal(b, ev); err != nil {
		return nil, fmt.Errorf("parsing GitHub event payload %s: %w", path, err)
	}
	return ev, nil
}
