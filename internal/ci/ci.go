package ci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sealsign/seal/internal/limits"
	"github.com/sealsign/seal/internal/oidc"
)

// Provider is one CI system.
type Provider interface {
	// Name is "github", "gitlab" or "local".
	Name() string
	// Metadata describes the running job. When tok is non-nil, fields with
	// a claim are taken from it, and disagreement with the environment is a
	// *MismatchError.
	Metadata(ctx context.Context, tok *oidc.Token) (*Metadata, error)
	// TokenSource yields the job's identity token, or nil when this CI has
	// no way to give one (Local).
	TokenSource() oidc.Source
}

// Metadata is what Seal knows about the job that builds and signs. Empty
// fields are unknown. Values are identifiers and URLs, never secrets.
type Metadata struct {
	Provider  string `json:"provider"`
	ServerURL string `json:"serverUrl,omitempty"` // https://github.com, https://gitlab.example.com

	Repository    string `json:"repository,omitempty"` // owner/repo, group/sub/project
	RepositoryURL string `json:"repositoryUrl,omitempty"`
	RepositoryID  string `json:"repositoryId,omitempty"`
	Owner         string `json:"owner,omitempty"` // repository owner or namespace path
	OwnerID       string `json:"ownerId,omitempty"`
	Visibility    string `json:"visibility,omitempty"` // public, private, internal

	Commit       string `json:"commit,omitempty"`
	Ref          string `json:"ref,omitempty"`     // fully qualified: refs/heads/main, refs/tags/v1
	RefType      string `json:"refType,omitempty"` // branch, tag
	RefProtected string `json:"refProtected,omitempty"`
	HeadRef      string `json:"headRef,omitempty"` // pull/merge request source branch
	BaseRef      string `json:"baseRef,omitempty"` // pull/merge request target branch
	Dirty        bool   `json:"dirty,omitempty"`   // local: uncommitted changes

	// ConfigPath is the workflow or CI configuration file; ConfigRef pins
	// it: GitHub's workflow_ref ("o/r/.github/workflows/b.yml@refs/heads/main"),
	// GitLab's ci_config_ref_uri ("gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main").
	ConfigPath string `json:"configPath,omitempty"`
	ConfigRef  string `json:"configRef,omitempty"`
	ConfigSHA  string `json:"configSha,omitempty"`
	// BuilderRef is the definition that ran the signing job: GitHub's
	// job_workflow_ref (a reusable workflow when one is called), GitLab's
	// ci_config_ref_uri. It is what Fulcio writes as Build Signer URI.
	BuilderRef string `json:"builderRef,omitempty"`
	BuilderSHA string `json:"builderSha,omitempty"`

	RunID       string `json:"runId,omitempty"` // GitHub run, GitLab pipeline
	RunNumber   string `json:"runNumber,omitempty"`
	RunAttempt  string `json:"runAttempt,omitempty"`
	RunURL      string `json:"runUrl,omitempty"`
	JobID       string `json:"jobId,omitempty"`
	JobName     string `json:"jobName,omitempty"`
	JobURL      string `json:"jobUrl,omitempty"`
	Event       string `json:"event,omitempty"` // push, pull_request, workflow_dispatch; GitLab pipeline source
	Actor       string `json:"actor,omitempty"`
	Environment string `json:"environment,omitempty"` // deployment environment

	RunnerEnvironment string `json:"runnerEnvironment,omitempty"` // github-hosted, gitlab-hosted, self-hosted
	RunnerID          string `json:"runnerId,omitempty"`
	RunnerName        string `json:"runnerName,omitempty"`
	RunnerOS          string `json:"runnerOs,omitempty"`
	RunnerArch        string `json:"runnerArch,omitempty"`
	RunnerVersion     string `json:"runnerVersion,omitempty"`
	Executor          string `json:"executor,omitempty"`

	StartedOn time.Time `json:"startedOn,omitzero"`

	// Inputs are the workflow_dispatch inputs (GitHub), which are build
	// parameters the user chose and belong in provenance.
	Inputs map[string]any `json:"inputs,omitempty"`
	// VariableNames lists the names, never the values, of the job's CI/CD
	// variables (GitLab).
	VariableNames []string `json:"variableNames,omitempty"`

	// Issuer is the identity token's issuer when the metadata is bound.
	Issuer string `json:"issuer,omitempty"`
	// Bound reports that the fields with token claims were taken from a token.
	Bound bool `json:"bound"`
	// Notes explain fallbacks the user should know about.
	Notes []string `json:"notes,omitempty"`
}

// ErrMismatch is wrapped by every MismatchError.
var ErrMismatch = errors.New("job environment disagrees with its identity token")

// Mismatch is one field on which environment and token disagree.
type Mismatch struct {
	Field      string
	Env        string // variable name
	EnvValue   string
	Claim      string
	ClaimValue string
}

// MismatchError lists every field on which the environment and the token
// disagree.
type MismatchError struct{ Mismatches []Mismatch }

func (e *MismatchError) Error() string {
	var b strings.Builder
	b.WriteString(ErrMismatch.Error())
	b.WriteString(": ")
	for i, m := range e.Mismatches {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: $%s=%q but token claim %s=%q", m.Field, m.Env, m.EnvValue, m.Claim, m.ClaimValue)
	}
	b.WriteString(" (refusing: the environment may have been altered by the job)")
	return b.String()
}

// Unwrap makes errors.Is(err, ErrMismatch) work.
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// binding is one metadata field that has both an environment variable and
// a token claim.
type binding struct {
	field string
	env   string
	claim string
	dst   *string
}

// bind applies claims over environment-derived values: the claim wins,
// and any non-empty environment value that differs is recorded.
func bind(c oidc.Claims, bs []binding) error {
	var ms []Mismatch
	for _, b := range bs {
		if !c.Has(b.claim) {
			continue
		}
		v := c.String(b.claim)
		if *b.dst != "" && *b.dst != v {
			ms = append(ms, Mismatch{Field: b.field, Env: b.env, EnvValue: *b.dst, Claim: b.claim, ClaimValue: c.String(b.claim)})
			continue
		}
		*b.dst = v
	}
	if len(ms) > 0 {
		return &MismatchError{Mismatches: ms}
	}
	return nil
}

type options struct {
	lookup    func(string) (string, bool)
	environ   func() []string
	transport http.RoundTripper
	tokenEnv  string
	dir       string
	now       func() time.Time
	mask      func(string)
	git       func(ctx context.Context, dir string, args ...string) (string, error)
}

// Option configures Detect and the providers.
type Option func(*options) error

// WithEnv replaces the process environment, for tests and embedding.
func WithEnv(env map[string]string) Option {
	return func(o *options) error {
		o.lookup = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		o.environ = func() []string {
			out := make([]string, 0, len(env))
			for k, v := range env {
				out = append(out, k+"="+v)
			}
			return out
		}
		return nil
	}
}

// WithTransport sets the HTTP transport for token requests.
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error { o.transport = t; return nil }
}

// WithTokenEnv names the variable GitLab's id_tokens writes the token to
// (default SIGSTORE_ID_TOKEN).
func WithTokenEnv(name string) Option {
	return func(o *options) error {
		if name == "" || strings.ContainsAny(name, " =$") {
			return fmt.Errorf("invalid token variable name %q", name)
		}
		o.tokenEnv = name
		return nil
	}
}

// WithDir sets the checkout the Local provider reads (default ".").
func WithDir(dir string) Option { return func(o *options) error { o.dir = dir; return nil } }

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) error { o.now = now; return nil }
}

// WithMask is called with every token a provider obtains, so the caller
// can hide it from the CI log (GitHub's ::add-mask::).
func WithMask(f func(secret string)) Option { return func(o *options) error { o.mask = f; return nil } }

func makeOptions(opts []Option) (*options, error) {
	o := &options{lookup: os.LookupEnv, environ: os.Environ, transport: limits.Default(), tokenEnv: "SIGSTORE_ID_TOKEN", dir: ".", now: time.Now, git: runGit}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (o *options) env(k string) string { v, _ := o.lookup(k); return strings.TrimSpace(v) }

// Detect returns the provider for the CI Seal runs in: GitHub Actions when
// GITHUB_ACTIONS=true, GitLab CI when GITLAB_CI=true, Local otherwise.
func Detect(opts ...Option) (Provider, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	switch {
	case o.env("GITHUB_ACTIONS") == "true":
		return &GitHub{o: o}, nil
	case o.env("GITLAB_CI") == "true":
		return &GitLab{o: o}, nil
	}
	return &Local{o: o}, nil
}

// Resolve is the usual sequence: fetch the provider's token (if it has one)
// for audience, then the metadata bound to it. A missing token is not an
// error; the metadata then says it is unbound. The token is returned for
// signing.
func Resolve(ctx context.Context, p Provider, src oidc.Source, audience string) (*Metadata, *oidc.Token, error) {
	if src == nil {
		src = p.TokenSource()
	}
	var tok *oidc.Token
	if src != nil {
		t, err := src.Token(ctx, audience)
		switch {
		case err == nil:
			tok = t
		case errors.Is(err, oidc.ErrNoToken):
		default:
			return nil, nil, err
		}
	}
	md, err := p.Metadata(ctx, tok)
	if err != nil {
		return nil, nil, err
	}
	return md, tok, nil
}
