package oci

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{
		`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull"`,
		`Basic realm="Registry Realm"`,
		`Bearer realm="x", Basic realm="y"`,
		`bearer realm=unquoted,error="insufficient_scope"`,
		`Bearer realm="a\"b"`, `=`, `,,,`, `"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		cs := parseChallenges([]string{h})
		for _, c := range cs {
			if c.scheme == "" || c.scheme != strings.ToLower(c.scheme) {
				t.Errorf("scheme %q", c.scheme)
			}
		}
		if c, ok := pickChallenge(cs); ok && c.scheme != "bearer" && c.scheme != "basic" {
			t.Errorf("picked %q", c.scheme)
		}
	})
}

func TestParseChallenges(t *testing.T) {
	cs := parseChallenges([]string{`Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push", Basic realm="x"`})
	if len(cs) != 2 || cs[0].scheme != "bearer" || cs[0].params["realm"] != "https://auth.example/token" ||
		cs[0].params["service"] != "reg" || cs[0].params["scope"] != "repository:a/b:pull,push" || cs[1].scheme != "basic" {
		t.Errorf("parseChallenges() = %+v", cs)
	}
	if c, _ := pickChallenge(parseChallenges([]string{`Basic realm="x"`, `Bearer realm="y"`})); c.scheme != "bearer" {
		t.Errorf("pickChallenge() = %v, want bearer", c)
	}
}

func FuzzNextLink(f *testing.F) {
	f.Add(`</v2/a/referrers/sha256:x?n=1&last=y>; rel="next"`)
	f.Add(`<https://other.example/v2/x>; rel="next"`)
	f.Add(`<:bad>; rel="next", <x>; rel=prev`)
	base, _ := url.Parse("https://reg.example/v2/a/referrers/sha256:x")
	f.Fuzz(func(t *testing.T, link string) {
		h := http.Header{}
		h.Set("Link", link)
		next, err := nextLink(&response{header: h, url: base})
		if err != nil || next == "" {
			return
		}
		u, err := url.Parse(next)
		if err != nil || u.Host != base.Host {
			t.Errorf("nextLink(%q) = %q leaves the registry", link, next)
		}
	})
}
