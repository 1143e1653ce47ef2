package cli

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/sealsign/seal/internal/keys"
)

// checkImageRef reads an image reference the way the registry client will,
// before any network call, and says how to fix the common mistakes.
func checkImageRef(ref string) error {
	repo := ref
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	_, err := name.ParseReference(ref)
	// Capitals are the common mistake (GitHub keeps them in the owner's
	// name): say so when lowercasing the path is all the reference needs.
	if host, path, ok := strings.Cut(repo, "/"); ok && strings.ToLower(path) != path {
		lower := host + "/" + strings.ToLower(path) + ref[len(repo):]
		if _, lerr := name.ParseReference(lower); lerr == nil {
			return usagef("image %q: a repository name must be lowercase (%s); in GitHub Actions ${{ github.repository }} keeps the owner's capitals: lowercase it first, for example IMAGE=ghcr.io/${GITHUB_REPOSITORY,,}", ref, strings.ToLower(path))
		}
	}
	if err != nil {
		return usagef("parsing image reference %q: %v (want NAME:TAG or NAME@sha256:HEX, e.g. ghcr.io/acme/app@sha256:...)", ref, err)
	}
	return nil
}

// checkKeyRef checks a --key reference before any network call: its
// syntax, and that a key file exists.
func checkKeyRef(ref string) error {
	if ref == "" {
		return nil
	}
	if err := keys.CheckRef(ref); err != nil {
		return usagef("--key: %w", err)
	}
	return nil
}

// plainHTTPHint is appended to an error of a registry that answered HTTPS
// with plain HTTP.
func plainHTTPHint(msg string) string {
	if strings.Contains(msg, "server gave HTTP response to HTTPS client") && !strings.Contains(msg, "--insecure-registry") {
		return msg + "; the registry speaks plain HTTP: pass --insecure-registry HOST:PORT (for a local test registry only)"
	}
	return msg
}
