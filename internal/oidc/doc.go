// Package oidc obtains the CI job's OpenID Connect identity token and reads
// its claims.
//
// A token comes from a Source: a literal value, a file, an environment
// variable (GitLab's id_tokens), or the GitHub Actions token endpoint. Seal
// never verifies the token's signature itself — Fulcio does that when it
// issues a certificate — but it does read the claims, because they are the
// part of the job's context the job cannot change: the CI providers bind
// build metadata to them. Tokens never appear in errors; Redact strips one
// from any string before it is shown.
package oidc
