package ci

// Credential is a registry login a CI hands its jobs.
type Credential struct {
	Host     string
	Username string
	Password string
}

// CredentialSource is implemented by providers whose CI gives jobs
// registry credentials, so Seal can push without a `docker login`.
type CredentialSource interface {
	RegistryCredentials() []Credential
}

// RegistryCredentials returns GitLab's job credentials for its registry
// (CI_REGISTRY_USER/CI_REGISTRY_PASSWORD for CI_REGISTRY).
func (g *GitLab) RegistryCredentials() []Credential {
	host, user, pass := g.o.env("CI_REGISTRY"), g.o.env("CI_REGISTRY_USER"), g.o.env("CI_REGISTRY_PASSWORD")
	if host == "" || user == "" || pass == "" {
		return nil
	}
	return []Credential{{Host: host, Username: user, Password: pass}}
}

// RegistryCredentials returns the workflow's GITHUB_TOKEN for ghcr.io,
// when the step was given one.
func (g *GitHub) RegistryCredentials() []Credential {
	tok := g.o.env("GITHUB_TOKEN")
	if tok == "" {
		return nil
	}
	user := g.o.env("GITHUB_ACTOR")
	if user == "" {
		user = "github-actions"
	}
	return []Credential{{Host: "ghcr.io", Username: user, Password: tok}}
}
