package oidc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrMalformed is returned for a string that is not a JWT with readable claims.
var ErrMalformed = errors.New("malformed identity token")

// Token is a raw identity token and its decoded (unverified) claims.
type Token struct {
	Raw    string
	Claims Claims
}

// Claims are a token's payload. Values keep their JSON types (string,
// float64, bool, ...); String renders any scalar as text.
type Claims map[string]any

// Parse decodes a compact JWT's payload without verifying its signature.
func Parse(raw string) (*Token, error) {
	raw = strings.TrimSpace(raw)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[1] == "" {
		return nil, fmt.Errorf("%w: expected three dot-separated parts", ErrMalformed)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil || c == nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	return &Token{Raw: raw, Claims: Claims(c)}, nil
}

// String returns claim k as text: strings as they are, numbers in their
// JSON spelling, booleans as "true"/"false". Missing or structured claims
// give "".
func (c Claims) String(k string) string {
	switch v := c[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// Has reports whether claim k is present.
func (c Claims) Has(k string) bool { _, ok := c[k]; return ok }

// Issuer is the "iss" claim.
func (c Claims) Issuer() string { return c.String("iss") }

// Subject is the "sub" claim.
func (c Claims) Subject() string { return c.String("sub") }

// Audience returns the "aud" claim, which may be a string or a list.
func (c Claims) Audience() []string {
	switch v := c["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, a := range v {
			if s, ok := a.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Time returns a NumericDate claim ("exp", "iat", "nbf").
func (c Claims) Time(k string) (time.Time, bool) {
	var f float64
	switch v := c[k].(type) {
	case json.Number:
		var err error
		if f, err = v.Float64(); err != nil {
			return time.Time{}, false
		}
	case float64:
		f = v
	default:
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}

// CheckUsable reports a token that Fulcio would refuse anyway, so the user
// learns why before any network call: expired, not yet valid, or issued for
// another audience. An empty audience skips the audience check.
func (t *Token) CheckUsable(now time.Time, audience string) error {
	if exp, ok := t.Claims.Time("exp"); ok && !now.Before(exp) {
		return fmt.Errorf("identity token from %s expired at %s (%s ago): request a fresh token", t.Claims.Issuer(), exp.Format(time.RFC3339), now.Sub(exp).Round(time.Second))
	}
	if nbf, ok := t.Claims.Time("nbf"); ok && now.Add(time.Minute).Before(nbf) {
		return fmt.Errorf("identity token from %s is not valid before %s", t.Claims.Issuer(), nbf.Format(time.RFC3339))
	}
	if audience != "" {
		aud := t.Claims.Audience()
		for _, a := range aud {
			if a == audience {
				return nil
			}
		}
		return fmt.Errorf("identity token audience is %q, want %q: request the token for audience %q (GitLab: id_tokens: SIGSTORE_ID_TOKEN: aud: %s)", strings.Join(aud, ","), audience, audience, audience)
	}
	return nil
}

// Redact replaces every occurrence of secret in s; a secret shorter than
// eight characters is left alone to avoid masking common words.
func Redact(s, secret string) string {
	if len(secret) < 8 {
		return s
	}
	return strings.ReplaceAll(s, secret, "***")
}
