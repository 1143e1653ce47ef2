package e2e

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/sealsign/seal/internal/testbed"
)

// tokenRegistry is an in-process registry behind bearer-token auth whose
// token endpoint records the scopes it is asked for.
type tokenRegistry struct {
	host   string
	mu     sync.Mutex
	scopes []string
}

func startTokenRegistry(t *testing.T) *tokenRegistry {
	t.Helper()
	tr := &tokenRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			tr.mu.Lock()
			tr.scopes = append(tr.scopes, r.URL.Query()["scope"]...)
			tr.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"token": "t0k3n"})
			return
		}
		if r.Header.Get("Authorization") != "Bearer t0k3n" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+tr.host+`/token",service="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

func (tr *tokenRegistry) take() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	s := tr.scopes
	tr.scopes = nil
	return s
}

// TestVerifyAsksOnlyForPull (issue 10, item 6): `seal verify` reads, so
// the registry token it asks for grants pull and nothing more; a deployer's
// read-only credentials then suffice, and a leaked verify token cannot
// push.
func TestVerifyAsksOnlyForPull(t *testing.T) {
	dir := t.TempDir()
	env := []string{"COSIGN_PASSWORD=scope-test"}
	mustRun(t, env, sealBin, "generate-key-pair", "--output-key-prefix", dir+"/k")
	tr := startTokenRegistry(t)
	img := tr.host + "/app@" + testbed.PushImage(t, tr.host+"/app:v1")
	mustRun(t, env, sealBin, "attest", "--sign", "--predicate", writeFile(t, dir, "sbom.json", spdxSBOM), "--key", dir+"/k.key",
		"--insecure-registry", tr.host, "--no-tlog", img)
	if got := tr.take(); len(got) == 0 {
		t.Fatal("the registry was never asked for a token: the test does not exercise token auth")
	}
	mustRun(t, nil, sealBin, "verify", "--key", dir+"/k.pub", "--insecure-registry", tr.host, "--attestation", "spdx", "--recursive", img)
	got := tr.take()
	if len(got) == 0 {
		t.Fatal("seal verify asked for no token")
	}
	for _, s := range got {
		if diff := cmp.Diff("repository:app:pull", s); diff != "" {
			t.Errorf("seal verify asked for scope %q, want pull only (-want +got):\n%s", s, diff)
		}
	}
}
