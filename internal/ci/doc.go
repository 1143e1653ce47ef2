// Package ci tells Seal where it runs and what job it runs for.
//
// A Provider (GitHub Actions, GitLab CI, or Local for a laptop or any other
// CI) reads the job's metadata from the environment and offers the job's
// OIDC identity token. The environment can be changed by the job itself;
// the token's claims cannot. So when a token is at hand every metadata field
// that has a claim is taken from the claim, and an environment that
// disagrees with its token is refused with a MismatchError that names the
// field and both values. The rest of Seal sees only Metadata and never
// knows which CI it runs in.
//
// Providers read environment values only for the fields Metadata names (an
// allowlist); nothing else from the environment, and no token, ends up in
// Metadata.
package ci
