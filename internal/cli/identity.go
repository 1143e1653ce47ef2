package cli

import (
	"context"

	"github.com/sealsign/seal/internal/cli/options"
	"github.com/sealsign/seal/internal/identity"
	"github.com/sealsign/seal/internal/keys"
)

// signer turns the identity flags that `seal verify` and `seal policy`
// share into who may have signed: a keyless identity or a public key,
// refusing contradictions.
func (a *app) signer(ctx context.Context, o options.Identity) (*identity.Identity, *keys.PublicKey, error) {
	raw := o.CertificateIdentity != "" || o.CertificateIdentityRegexp != ""
	n := 0
	for _, set := range []bool{o.GitHubRepo != "", o.GitLabProject != "", raw, o.Key != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, nil, usagef("say who must have signed with exactly one of --github-repo, --gitlab-project, --certificate-identity[-regexp] or --key")
	}
	switch {
	case o.GitHubWorkflow != "" && o.GitHubRepo == "":
		return nil, nil, usagef("--github-workflow needs --github-repo")
	case o.GitHubHost != "" && o.GitHubRepo == "":
		return nil, nil, usagef("--github-host needs --github-repo")
	case o.GitLabHost != "" && o.GitLabProject == "":
		return nil, nil, usagef("--gitlab-host needs --gitlab-project")
	case o.ProtectedRefOnly && o.GitLabProject == "":
		return nil, nil, usagef("--protected-ref-only applies to --gitlab-project")
	case (o.Ref != "" || o.HostedRunnersOnly) && o.GitHubRepo == "" && o.GitLabProject == "":
		return nil, nil, usagef("--ref and --hosted-runners-only apply to --github-repo and --gitlab-project")
	case len(o.AllowTriggers) > 0 && o.GitHubRepo == "":
		return nil, nil, usagef("--allow-trigger applies to --github-repo")
	case (o.GitHubRepoID != "" || o.GitHubOwnerID != "") && o.GitHubRepo == "":
		return nil, nil, usagef("--github-repo-id and --github-owner-id apply to --github-repo")
	case (o.GitLabProjectID != "" || o.GitLabNamespaceID != "") && o.GitLabProject == "":
		return nil, nil, usagef("--gitlab-project-id and --gitlab-namespace-id apply to --gitlab-project")
	case o.CertificateOIDCIssuer != "" && o.CertificateOIDCIssuerRegexp != "":
		return nil, nil, usagef("--certificate-oidc-issuer and --certificate-oidc-issuer-regexp contradict each other")
	case o.CertificateIdentity != "" && o.CertificateIdentityRegexp != "":
		return nil, nil, usagef("--certificate-identity and --certificate-identity-regexp contradict each other")
	case o.Key != "" && (o.CertificateOIDCIssuer != "" || o.CertificateOIDCIssuerRegexp != ""):
		return nil, nil, usagef("--key and --certificate-oidc-issuer contradict each other: a key has no issuer")
	}
	var (
		id  identity.Identity
		err error
	)
	switch {
	case o.Key != "":
		if err := checkKeyRef(o.Key); err != nil {
			return nil, nil, err
		}
		pub, err := keys.LoadPublic(ctx, o.Key, keys.WithLookupEnv(a.lookupEnv))
		if err != nil {
			return nil, nil, err
		}
		return nil, pub, nil
	case o.GitHubRepo != "":
		id, err = identity.GitHub{
			Host: o.GitHubHost, Repo: o.GitHubRepo, Workflow: o.GitHubWorkflow, Ref: o.Ref, HostedRunnersOnly: o.HostedRunnersOnly,
			RepoID: o.GitHubRepoID, OwnerID: o.GitHubOwnerID, AllowTriggers: o.AllowTriggers,
		}.Identity()
	case o.GitLabProject != "":
		id, err = identity.GitLab{
			Host: o.GitLabHost, Project: o.GitLabProject, Ref: o.Ref, HostedRunnersOnly: o.HostedRunnersOnly, ProtectedRefOnly: o.ProtectedRefOnly,
			ProjectID: o.GitLabProjectID, NamespaceID: o.GitLabNamespaceID,
		}.Identity()
	default:
		if o.CertificateOIDCIssuer == "" && o.CertificateOIDCIssuerRegexp == "" {
			return nil, nil, usagef("--certificate-identity needs --certificate-oidc-issuer[-regexp]")
		}
		id = identity.Identity{Subject: o.CertificateIdentity, SubjectRegexp: o.CertificateIdentityRegexp}
	}
	if err != nil {
		return nil, nil, &usageError{err}
	}
	// With a preset, the issuer flags name another instance of the same CI
	// (GitHub Enterprise Server, self-managed GitLab, a test issuer).
	if o.CertificateOIDCIssuer != "" {
		id.Issuer, id.IssuerRegexp = o.CertificateOIDCIssuer, ""
	}
	if o.CertificateOIDCIssuerRegexp != "" {
		id.Issuer, id.IssuerRegexp = "", o.CertificateOIDCIssuerRegexp
	}
	if err := id.Validate(); err != nil {
		return nil, nil, &usageError{err}
	}
	return &id, nil, nil
}
