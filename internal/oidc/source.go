package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sealsign/seal/internal/limits"
)

// ErrNoToken means the job has no identity token: the CI does not offer one
// (or was not configured to), and none was given.
var ErrNoToken = errors.New("no identity token available")

// Source yields an identity token for an audience.
type Source interface {
	Token(ctx context.Context, audience string) (*Token, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, audience string) (*Token, error)

// Token calls f.
func (f SourceFunc) Token(ctx context.Context, audience string) (*Token, error) {
	return f(ctx, audience)
}

// Static is a token given as a value; the audience is not chosen by Seal.
type Static string

// Token parses the value.
func (s Static) Token(context.Context, string) (*Token, error) {
	if strings.TrimSpace(string(s)) == "" {
		return nil, ErrNoToken
	}
	return Parse(string(s))
}

// Env reads the token from an environment variable, as GitLab's id_tokens
// provide it. Lookup defaults to os.LookupEnv.
type Env struct {
	Name   string
	Lookup func(string) (string, bool)
}

// Token reads and parses the variable.
func (e Env) Token(context.Context, string) (*Token, error) {
	lookup := e.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(e.Name)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%w: environment variable %s is not set", ErrNoToken, e.Name)
	}
	t, err := Parse(v)
	if err != nil {
		return nil, fmt.Errorf("reading identity token from $%s: %w", e.Name, err)
	}
	return t, nil
}

// FromFlag turns the value of an --identity-token flag into a Source:
// "@path" reads a file, "env://NAME" an environment variable, anything else
// is the token itself.
func FromFlag(v string, lookup func(string) (string, bool)) Source {
	switch {
	case strings.HasPrefix(v, "@"):
		path := v[1:]
		return SourceFunc(func(context.Context, string) (*Token, error) {
			b, err := limits.ReadFile("--identity-token", path, limits.Token, nil)
			if err != nil {
				return nil, err
			}
			t, err := Parse(string(b))
			if err != nil {
				return nil, fmt.Errorf("reading identity token from %s: %w", path, err)
			}
			return t, nil
		})
	case strings.HasPrefix(v, "env://"):
		return Env{Name: strings.TrimPrefix(v, "env://"), Lookup: lookup}
	}
	return Static(v)
}

// Actions requests a token from the GitHub Actions OIDC endpoint, the way
// actions/core getIDToken does: GET $ACTIONS_ID_TOKEN_REQUEST_URL with an
// "audience" query parameter and the request token as a bearer.
type Actions struct {
	URL          string // ACTIONS_ID_TOKEN_REQUEST_URL
	RequestToken string // ACTIONS_ID_TOKEN_REQUEST_TOKEN
	Transport    http.RoundTripper
}

// Token fetches a token for audience.
func (a Actions) Token(ctx context.Context, audience string) (*Token, error) {
	if a.URL == "" || a.RequestToken == "" {
		return nil, fmt.Errorf("%w: ACTIONS_ID_TOKEN_REQUEST_URL is not set; give the job `permissions: id-token: write`", ErrNoToken)
	}
	u, err := url.Parse(a.URL)
	if err != nil {
		return nil, fmt.Errorf("parsing ACTIONS_ID_TOKEN_REQUEST_URL: %w", errors.Unwrap(err))
	}
	if audience != "" {
		q := u.Query()
		q.Set("audience", audience)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("building token request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.RequestToken)
	req.Header.Set("Accept", "application/json")
	tr := a.Transport
	if tr == nil {
		tr = limits.Default()
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		// url.Error carries the URL, which may hold a signed query: drop it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("requesting GitHub Actions identity token from %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading GitHub Actions identity token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("requesting GitHub Actions identity token: %s from %s", resp.Status, u.Host)
	}
	var r struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Value == "" {
		return nil, fmt.Errorf("requesting GitHub Actions identity token: response has no \"value\"")
	}
	t, err := Parse(r.Value)
	if err != nil {
		return nil, fmt.Errorf("GitHub Actions identity token: %w", err)
	}
	return t, nil
}
