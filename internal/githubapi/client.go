package githubapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sealsign/seal/internal/limits"
)

// ErrNotPermitted is wrapped when GitHub refuses a write (401, 403 or 404): the token lacks
// the permission, or the repository's owner is a personal account, which has no artifact
// metadata (or its plan no attestations).
var ErrNotPermitted = errors.New("GitHub did not allow writing artifact metadata")

// Permission is the job permission artifact metadata needs.
const Permission = "artifact-metadata: write"

// AttestationsPermission is the one the repository's attestations need.
const AttestationsPermission = "attestations: write"

// apiVersion is the REST API version the request bodies follow.
const apiVersion = "2022-11-28"

// Client writes artifact metadata for the organisation that owns one repository.
type Client struct {
	base     string
	org      string
	repo     string
	token    string
	http     *http.Client
	attempts int
	backoff  time.Duration
	sleep    func(context.Context, time.Duration) error
}

// Option configures a Client.
type Option func(*options) error

type options struct {
	transport http.RoundTripper
	attempts  int
	backoff   time.Duration
	sleep     func(context.Context, time.Duration) error
}

// WithTransport carries every request (limits.Default() when not given).
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error {
		if t == nil {
			return errors.New("githubapi: nil transport")
		}
		o.transport = t
		return nil
	}
}

// WithRetry makes at most attempts requests for one call, waiting backoff, then twice as long,
// between them. The default is 4 attempts from 1 s.
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(o *options) error {
		if attempts < 1 || backoff < 0 {
			return fmt.Errorf("githubapi: want at least one attempt and a backoff >= 0, got %d and %v", attempts, backoff)
		}
		o.attempts, o.backoff = attempts, backoff
		return nil
	}
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{transport: limits.Default(), attempts: 4, backoff: time.Second, sleep: sleepCtx}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// New returns a client of the REST API at apiURL ($GITHUB_API_URL: https://api.github.com, or
// https://HOST/api/v3 on GitHub Enterprise Server) that writes for the organisation owning
// repository (OWNER/REPO, $GITHUB_REPOSITORY) with token.
func New(apiURL, repository, token string, opts ...Option) (*Client, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	owner, name, ok := strings.Cut(repository, "/")
	switch {
	case apiURL == "":
		return nil, fmt.Errorf("%w: the GitHub API URL (GITHUB_API_URL) is not set", ErrNotPermitted)
	case !ok || owner == "" || name == "" || strings.ContainsAny(repository[len(owner)+1:], "/?#% ") || strings.ContainsAny(owner, "?#% "):
		return nil, fmt.Errorf("%w: the repository %q is not OWNER/REPO (GITHUB_REPOSITORY)", ErrNotPermitted, repository)
	case token == "":
		return nil, fmt.Errorf("%w: no GitHub token (github-token, GITHUB_TOKEN)", ErrNotPermitted)
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q: want https://HOST[/api/v3]", apiURL)
	}
	return &Client{
		base: strings.TrimSuffix(apiURL, "/"), org: owner, repo: repository, token: token,
		http:     &http.Client{Transport: o.transport, Timeout: time.Minute},
		attempts: o.attempts, backoff: o.backoff, sleep: o.sleep,
	}, nil
}

// Organization is the owner whose artifact metadata the client writes.
func (c *Client) Organization() string { return c.org }

// post sends body as JSON to path (under the API URL) and decodes the answer into out,
// retrying transport errors, 5xx and 429 (GitHub's rate limits answer 429, or 403 with
// x-ratelimit-remaining: 0). A refusal names the permission the job needs.
func (c *Client) post(ctx context.Context, what, path, permission string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: encoding the request: %w", what, err)
	}
	wait := c.backoff
	var last string
	for attempt := 1; ; attempt++ {
		status, answer, err := c.do(ctx, path, b)
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case err != nil:
			last = err.Error()
		case status/100 == 2:
			if err := json.Unmarshal(answer, out); err != nil {
				return fmt.Errorf("%s: reading GitHub's answer: %w", what, err)
			}
			return nil
		case status == http.StatusTooManyRequests || status >= 500 || status == http.StatusForbidden && rateLimited(answer):
			last = fmt.Sprintf("%d %s", status, apiMessage(answer))
		case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound:
			if permission == AttestationsPermission {
				return fmt.Errorf("%w: %s: %d %s for %s (give the job `permissions: %s`)", ErrNotPermitted, what, status, apiMessage(answer), c.repo, permission)
			}
			return fmt.Errorf("%w: %s: %d %s for %s (give the job `permissions: %s`; an organisation owns artifact metadata, a personal account has none)",
				ErrNotPermitted, what, status, apiMessage(answer), c.org, permission)
		default:
			return fmt.Errorf("%s: %d %s", what, status, apiMessage(answer))
		}
		if attempt >= c.attempts {
			return fmt.Errorf("%s (%d attempts): %s", what, c.attempts, last)
		}
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		wait *= 2
	}
}

// do makes one request; the token goes in a header only, never in a URL or an error.
func (c *Client) do(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "seal")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is the API's: noise next to the cause
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("reading GitHub's answer: %w", err)
	}
	return resp.StatusCode, answer, nil
}

// rateLimited reports whether a 403 is a rate limit rather than a refusal.
func rateLimited(answer []byte) bool {
	m := strings.ToLower(apiMessage(answer))
	return strings.Contains(m, "rate limit")
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

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
