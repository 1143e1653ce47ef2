package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sealsign/seal/internal/limits"
)

// ErrNotPermitted is wrapped when GitHub refuses to store an attestation because the token
// lacks `attestations: write` or the repository's plan has no attestations (403, 404): a
// step that stores them only when it can treats it as a warning.
var ErrNotPermitted = errors.New("GitHub did not allow storing the attestation")

// GitHubStore stores Sigstore bundles in a repository's attestations
// (POST /repos/OWNER/REPO/attestations), as actions/attest does, so that
// `gh attestation verify` and the repository's Attestations page find them without reading
// the registry.
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
}

// Store uploads one bundle and returns the attestation's id and page URL.
func (s GitHubStore) Store(ctx context.Context, bundleJSON []byte) (id, page string, err error) {
	if s.APIURL == "" || s.Repository == "" || s.Token == "" {
		return "", "", fmt.Errorf("%w: GITHUB_API_URL, GITHUB_REPOSITORY or the token is not set", ErrNotPermitted)
	}
	if !json.Valid(bundleJSON) {
		return "", "", errors.New("storing attestation: the bundle is not JSON")
	}
	body, err := json.Marshal(struct {
		Bundle json.RawMessage `json:"bundle"`
	}{bundleJSON})
	if err != nil {
		return "", "", fmt.Errorf("encoding attestation request: %w", err)
	}
	u := strings.TrimSuffix(s.APIURL, "/") + "/repos/" + s.Repository + "/attestations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", "", fmt.Errorf("building attestation request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Content-Type", "application/json")
	tr := s.Transport
	if tr == nil {
		tr = limits.Default()
	}
	resp, err := (&http.Client{Transport: tr, Timeout: time.Minute}).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", "", fmt.Errorf("storing attestation in %s: %w", s.Repository, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusUnauthorized:
		return "", "", fmt.Errorf("%w: %s for %s (give the job `permissions: attestations: write`): %s", ErrNotPermitted, resp.Status, s.Repository, apiMessage(msg))
	case resp.StatusCode/100 != 2:
		return "", "", fmt.Errorf("storing attestation in %s: %s: %s", s.Repository, resp.Status, apiMessage(msg))
	}
	var r struct {
		ID json.Number `json:"id"`
	}
	d := json.NewDecoder(bytes.NewReader(msg))
	d.UseNumber()
	if err := d.Decode(&r); err != nil || r.ID == "" {
		return "", "", fmt.Errorf("storing attestation in %s: the response has no id", s.Repository)
	}
	if _, err := strconv.ParseInt(string(r.ID), 10, 64); err != nil {
		return "", "", fmt.Errorf("storing attestation in %s: unexpected id %q", s.Repository, r.ID)
	}
	server := strings.TrimSuffix(s.ServerURL, "/")
	if server == "" {
		server = "https://github.com"
	}
	return string(r.ID), server + "/" + s.Repository + "/attestations/" + string(r.ID), nil
}

// apiMessage is the "message" of a GitHub API error, or a prefix of the body.
func apiMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return strings.TrimSpace(string(body))
}
