package action

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sealsign/seal/internal/githubapi"
)

// ErrNotPermitted is wrapped when GitHub refuses to store an attestation because the token
// lacks `attestations: write` or the repository's plan has no attestations (403, 404): a
// step that stores them only when it can treats it as a warning.
var ErrNotPermitted = errors.New("GitHub did not allow storing the attestation")

// GitHubStore stores Sigstore bundles in a repository's attestations
// (POST /repos/OWNER/REPO/attestations), as actions/attest does, so that
// `gh attestation verify` and the repository's Attestations page find them without reading
// the registry. It retries as package githubapi does (transport errors, 5xx, 429).
type GitHubStore struct {
	// APIURL is $GITHUB_API_URL (https://api.github.com, or a GHES /api/v3 URL).
	APIURL string
	// ServerURL is $GITHUB_SERVER_URL, for the attestation's page.
	ServerURL string
	// Repository is OWNER/REPO.
	Repository string
	// Token needs `attestations: write`.
	Token string
	// Transport carries the request (http.DefaultTransport when nil).
	Transport http.RoundTripper
	// Attempts and Backoff bound the retries (githubapi's defaults when zero).
	Attempts int
	Backoff  time.Duration
}

// Store uploads one bundle and returns the attestation's id and page URL.
func (s GitHubStore) Store(ctx context.Context, bundleJSON []byte) (id, page string, err error) {
	var opts []githubapi.Option
	if s.Transport != nil {
		opts = append(opts, githubapi.WithTransport(s.Transport))
	}
	if s.Attempts > 0 {
		opts = append(opts, githubapi.WithRetry(s.Attempts, s.Backoff))
	}
	c, err := githubapi.New(s.APIURL, s.Repository, s.Token, opts...)
	if errors.Is(err, githubapi.ErrNotPermitted) {
		return "", "", fmt.Errorf("%w: GITHUB_API_URL, GITHUB_REPOSITORY or the token is not set", ErrNotPermitted)
	} else if err != nil {
		return "", "", err
	}
	n, err := c.StoreAttestation(ctx, bundleJSON)
	if errors.Is(err, githubapi.ErrNotPermitted) {
		return "", "", fmt.Errorf("%w: %w", ErrNotPermitted, err)
	} else if err != nil {
		return "", "", err
	}
	server := strings.TrimSuffix(s.ServerURL, "/")
	if server == "" {
		server = "https://github.com"
	}
	id = strconv.FormatInt(n, 10)
	return id, server + "/" + s.Repository + "/attestations/" + id, nil
}
