package ci

import (
	"bytes"
	"context"
	"net/url"
	"os/exec"
	"runtime"
	"strings"

	"github.com/sealsign/seal/internal/oidc"
)

// Local is the provider outside any known CI: a laptop, the demo, or a CI
// Seal does not know. Metadata comes from the git checkout when there is
// one; there is no identity token unless the user passes one.
type Local struct{ o *options }

// NewLocal returns the Local provider regardless of detection.
func NewLocal(opts ...Option) (*Local, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return &Local{o: o}, nil
}

// Name is "local".
func (*Local) Name() string { return "local" }

// TokenSource is nil: a laptop has no ambient identity.
func (*Local) TokenSource() oidc.Source { return nil }

// Metadata reads the git checkout. A token given by the user is recorded
// as the issuer only: a local build's claims describe the person, not a job.
func (l *Local) Metadata(ctx context.Context, tok *oidc.Token) (*Metadata, error) {
	m := &Metadata{
		Provider:   "local",
		RunnerOS:   runtime.GOOS,
		RunnerArch: runtime.GOARCH,
		StartedOn:  l.o.now().UTC(),
	}
	git := func(args ...string) string {
		out, err := l.o.git(ctx, l.o.dir, args...)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(out)
	}
	if m.Commit = git("rev-parse", "--verify", "HEAD"); m.Commit != "" {
		m.Ref = git("symbolic-ref", "-q", "HEAD")
		m.RefType = refType(m.Ref)
		m.RepositoryURL = cleanRemote(git("remote", "get-url", "origin"))
		m.Dirty = git("status", "--porcelain", "--untracked-files=no") != ""
	}
	if tok != nil {
		m.Issuer = tok.Claims.Issuer()
	}
	m.Notes = append(m.Notes, "local build: no CI identity binds this metadata; it records the git checkout as found")
	return m, nil
}

// cleanRemote turns a git remote into a URL without credentials:
// https://user:token@host/x.git -> https://host/x, git@host:o/r.git ->
// https://host/o/r.
func cleanRemote(r string) string {
	if r == "" {
		return ""
	}
	if !strings.Contains(r, "://") {
		// scp-like syntax: [user@]host:path
		if at := strings.LastIndex(r, "@"); at >= 0 {
			r = r[at+1:]
		}
		host, path, ok := strings.Cut(r, ":")
		if !ok {
			return "" // a local path: nothing a verifier could use
		}
		r = "https://" + host + "/" + strings.TrimPrefix(path, "/")
	}
	u, err := url.Parse(r)
	if err != nil || u.Host == "" {
		return ""
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	if u.Scheme == "ssh" || u.Scheme == "git" {
		u.Scheme = "https"
		u.Host = u.Hostname()
	}
	u.Path = strings.TrimSuffix(u.Path, ".git")
	return u.String()
}

func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	return out.String(), err
}
