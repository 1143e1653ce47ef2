package oidc

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mk(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestParse(t *testing.T) {
	tok, err := Parse(" " + mk(`{"iss":"https://i","aud":["a","sigstore"],"run_id":"5","runner_id":12270857,"ok":true,"exp":1893456000}`) + "\n")
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	for k, want := range map[string]string{"iss": "https://i", "run_id": "5", "runner_id": "12270857", "ok": "true", "missing": ""} {
		if got := tok.Claims.String(k); got != want {
			t.Errorf("String(%q) = %q, want %q", k, got, want)
		}
	}
	if aud := tok.Claims.Audience(); len(aud) != 2 || aud[1] != "sigstore" {
		t.Errorf("Audience() = %v", aud)
	}
	for _, bad := range []string{"", "abc", "a.b", "a..c", "a.!!!.c", mk(`[1,2]`), mk(`null`), mk(`{"a":`)} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestCheckUsable(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, _ := Parse(mk(`{"iss":"https://i","aud":"sigstore","exp":` + itoa(now.Add(time.Hour).Unix()) + `}`))
	if err := tok.CheckUsable(now, "sigstore"); err != nil {
		t.Errorf("CheckUsable(valid) = %v", err)
	}
	if err := tok.CheckUsable(now, "other"); err == nil || !strings.Contains(err.Error(), `audience is "sigstore", want "other"`) {
		t.Errorf("CheckUsable(wrong audience) = %v", err)
	}
	if err := tok.CheckUsable(now.Add(2*time.Hour), "sigstore"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("CheckUsable(expired) = %v", err)
	}
	tok, _ = Parse(mk(`{"nbf":` + itoa(now.Add(time.Hour).Unix()) + `}`))
	if err := tok.CheckUsable(now, ""); err == nil || !strings.Contains(err.Error(), "not valid before") {
		t.Errorf("CheckUsable(not yet valid) = %v", err)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestFromFlag(t *testing.T) {
	raw := mk(`{"iss":"https://i"}`)
	path := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(path, []byte(raw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TOK": raw}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, v := range []string{raw, "@" + path, "env://TOK"} {
		tok, err := FromFlag(v, lookup).Token(context.Background(), "sigstore")
		if err != nil || tok.Claims.Issuer() != "https://i" {
			t.Errorf("FromFlag(%.10s).Token() = %v, %v", v, tok, err)
		}
	}
	if _, err := FromFlag("env://NOPE", lookup).Token(context.Background(), ""); !errors.Is(err, ErrNoToken) {
		t.Errorf("FromFlag(env://NOPE) = %v, want ErrNoToken", err)
	}
	if _, err := FromFlag("@/does/not/exist", lookup).Token(context.Background(), ""); err == nil {
		t.Error("FromFlag(@missing) succeeded")
	}
	if _, err := FromFlag("not-a-jwt-but-secretish", lookup).Token(context.Background(), ""); err == nil || strings.Contains(err.Error(), "secretish") {
		t.Errorf("FromFlag(garbage) = %v, want an error that does not repeat the value", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(mk(`{"iss":"https://i","aud":["a"],"exp":1}`))
	f.Add("a.b.c")
	f.Add(mk(`{"exp":"soon","aud":{"x":1}}`))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s)
		if err != nil {
			return
		}
		_ = tok.Claims.Audience()
		_, _ = tok.Claims.Time("exp")
		_ = tok.CheckUsable(time.Now(), "sigstore")
		for k := range tok.Claims {
			_ = tok.Claims.String(k)
		}
	})
}
