package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Why not go-containerregistry's transport.Ping or transport.NewWithContext
// (which pings, then exchanges a token): for a host its heuristic calls
// insecure (loopback, RFC 1918, *.local) Ping races HTTPS against plain HTTP,
// which costs an extra request on every registry named in WithInsecureHosts
// and would speak plain HTTP to a loopback registry that was not named there;
// and its ping is not retried. Its challenge parser is internal to it, hence
// the one below. From the ping on, the token exchange and the authenticating
// transports are its own (Exchange, FromToken).

// challenge is one parsed WWW-Authenticate challenge.
type challenge struct {
	scheme string // lower case
	params map[string]string
}

// parseChallenges parses WWW-Authenticate header values (RFC 7235): each value
// may hold several challenges, each a scheme followed by comma separated
// auth-params with token or quoted-string values.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		p := &headerParser{s: v}
		var cur *challenge
		for {
			p.skip(" \t,")
			if p.done() {
				break
			}
			tok := p.token()
			if tok == "" {
				// Not a token: skip one character so that garbage cannot loop us.
				p.i++
				continue
			}
			p.skip(" \t")
			if p.peek() == '=' {
				p.i++
				p.skip(" \t")
				var val string
				if p.peek() == '"' {
					val = p.quoted()
				} else {
					val = p.token()
				}
				if cur != nil {
					cur.params[strings.ToLower(tok)] = val
				}
				continue
			}
			// A bare token starts a new challenge; token68 credentials (rare in
			// challenges) are ignored.
			out = append(out, challenge{scheme: strings.ToLower(tok), params: map[string]string{}})
			cur = &out[len(out)-1]
		}
	}
	return out
}

type headerParser struct {
	s string
	i int
}

func (p *headerParser) done() bool { return p.i >= len(p.s) }

func (p *headerParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *headerParser) skip(chars string) {
	for !p.done() && strings.IndexByte(chars, p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *headerParser) token() string {
	start := p.i
	for !p.done() && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *headerParser) quoted() string {
	p.i++ // opening quote
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '\\':
			if !p.done() {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		case '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isTokenChar reports whether c may appear in an RFC 7230 token (plus '/' for
// token68-ish values some registries send unquoted).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/:", c) >= 0
}

// pickChallenge prefers Bearer, then Basic, like the Docker client.
func pickChallenge(cs []challenge) (challenge, bool) {
	for _, want := range []string{"bearer", "basic"} {
		for _, c := range cs {
			if c.scheme == want {
				return c, true
			}
		}
	}
	return challenge{}, false
}

// ping asks the registry which authentication it wants (GET /v2/). One request,
// once per registry per client.
func (c *Client) ping(ctx context.Context, reg name.Registry, scheme string) (*transport.Challenge, error) {
	u := scheme + "://" + reg.RegistryStr() + "/v2/"
	resp, err := c.call(ctx, c.plain, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	}, 64<<10, http.StatusOK, http.StatusUnauthorized)
	if err != nil {
		return nil, fmt.Errorf("pinging registry %s: %w", reg.RegistryStr(), err)
	}
	ch := &transport.Challenge{Insecure: scheme == "http"}
	if resp.status == http.StatusUnauthorized {
		if pc, ok := pickChallenge(parseChallenges(resp.header.Values("WWW-Authenticate"))); ok {
			ch.Scheme = pc.scheme
			ch.Parameters = pc.params
		} else {
			// A 401 with no usable challenge: try basic credentials, as docker does.
			ch.Scheme = "basic"
		}
	}
	return ch, nil
}

// authTransport returns a transport that authenticates to one repository with
// the given scopes. For a bearer registry this costs one token request.
func (c *Client) authTransport(ctx context.Context, repo name.Repository, ch *transport.Challenge, scopes []string) (http.RoundTripper, error) {
	auth, err := authn.Resolve(ctx, c.keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("resolving credentials for %s: %w", repo.RegistryStr(), err)
	}
	reg := repo.Registry
	if strings.ToLower(ch.Scheme) != "bearer" {
		return transport.FromToken(reg, auth, c.authInner, ch, nil)
	}
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return nil, fmt.Errorf("reading credentials for %s: %w", repo.RegistryStr(), err)
	}
	tok := &transport.Token{Token: cfg.RegistryToken}
	if tok.Token == "" {
		tok, err = c.exchange(ctx, reg, auth, ch, scopes)
		if err != nil {
			return nil, err
		}
	}
	return transport.FromToken(reg, auth, c.authInner, ch, tok)
}

// exchange fetches a registry token, retrying like every other request.
func (c *Client) exchange(ctx context.Context, reg name.Registry, auth authn.Authenticator, ch *transport.Challenge, scopes []string) (*transport.Token, error) {
	var tok *transport.Token
	err := c.retry(ctx, func() (bool, error) {
		t, err := transport.Exchange(ctx, reg, auth, c.authInner, scopes, ch)
		if err != nil {
			return retryableError(ctx, err), err
		}
		tok = t
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetching a registry token for %s: %w", reg.RegistryStr(), tokenError(err))
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	return tok, nil
}

// tokenError turns a token service's refusal into a RegistryError (so that
// errors.Is(err, ErrDenied) holds) with the realm's query cut off.
func tokenError(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return redactError(err)
	}
	re := &RegistryError{StatusCode: te.StatusCode, Method: http.MethodGet}
	if te.Request != nil {
		re.Method, re.URL = te.Request.Method, redactURL(te.Request.URL)
	}
	for _, d := range te.Errors {
		re.Codes = append(re.Codes, string(d.Code))
		if re.Message == "" {
			re.Message = d.Message
		}
	}
	return re
}

// staticKeychain serves credentials handed in by the CI (WithCredentials).
type staticKeychain map[string]authn.AuthConfig

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := k[r.RegistryStr()]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}
