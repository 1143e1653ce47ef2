package oci_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/ocitest"
)

const (
	testUser     = "ci-user"
	testPassword = "pa55-w0rd-never-printed"
)

// authRegistry puts token or basic authentication in front of ggcr's registry,
// like GitLab's and GHCR's registries: a token service on the same host issues
// tokens for scopes; writes need push.
type authRegistry struct {
	// expire makes this many manifest PUTs fail as if the token had expired.
	expire atomic.Int32

	mu     sync.Mutex
	scopes []string // every scope a token was issued for
}

func startAuthRegistry(t *testing.T, basic bool) (string, *authRegistry) {
	t.Helper()
	a := &authRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var host string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, hasBasic := r.BasicAuth()
		goodCreds := hasBasic && user == testUser && pass == testPassword
		if r.URL.Path == "/token" {
			if !goodCreds {
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
				return
			}
			scope := strings.Join(r.URL.Query()["scope"], " ")
			a.mu.Lock()
			a.scopes = append(a.scopes, scope)
			a.mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]string{"token": "tok:" + scope})
			return
		}
		repo := repoOf(r.URL.Path)
		need := "pull"
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			need = "push"
		}
		if basic {
			if !goodCreds {
				w.Header().Set("WWW-Authenticate", `Basic realm="test registry"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
				return
			}
			reg.ServeHTTP(w, r)
			return
		}
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		ok := strings.HasPrefix(tok, "tok:") && r.URL.Path == "/v2/"
		for _, g := range strings.Fields(strings.TrimPrefix(tok, "tok:")) {
			if strings.HasPrefix(g, "repository:"+repo+":") && strings.Contains(g, need) {
				ok = true
			}
		}
		if ok && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && a.expire.Add(-1) >= 0 {
			ok = false
		}
		if !ok {
			scope := ""
			if repo != "" {
				scope = fmt.Sprintf(`,scope="repository:%s:%s"`, repo, need)
			}
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"%s`, host, scope))
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	host = s.Listener.Addr().String()
	return host, a
}

// repoOf extracts the repository from /v2/<repo>/(manifests|blobs|referrers|tags)/...
func repoOf(path string) string {
	p := strings.TrimPrefix(path, "/v2/")
	for _, kw := range []string{"/manifests/", "/blobs/", "/referrers/", "/tags/"} {
		if i := strings.Index(p, kw); i >= 0 {
			return p[:i]
		}
	}
	return ""
}

func TestCredentials(t *testing.T) {
	for _, basic := range []bool{false, true} {
		t.Run(fmt.Sprintf("basic=%v", basic), func(t *testing.T) {
			ctx := ocitest.Context(t)
			host, a := startAuthRegistry(t, basic)
			// Push a subject with a separate client, then publish and verify as a
			// CI job would: resolve, publish, read back.
			s := pushViaClient(t, ocitest.Client(t, host, oci.WithCredentials(host, testUser, testPassword)), host)
			a.mu.Lock()
			a.scopes = nil
			a.mu.Unlock()
			var logs bytes.Buffer
			c := ocitest.Client(t, host, oci.WithCredentials(host, testUser, testPassword),
				oci.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			if _, err := c.Resolve(ctx, s.Ref.String()); err != nil {
				t.Fatalf("Resolve() = %v", err)
			}
			if _, err := bundle.Put(ctx, c, s, bundle.Artifact{Bundle: ocitest.Bundle(1), Content: bundle.ContentDSSE}); err != nil {
				t.Fatalf("bundle.Put() = %v", err)
			}
			if got, err := bundle.List(ctx, c, s, bundle.Filter{}); err != nil || len(got) != 1 {
				t.Fatalf("bundle.List() = %d, %v", len(got), err)
			}
			if !basic {
				// One token per repository and access: pull for Resolve, push
				// for publishing, and reads reuse the push token.
				want := []string{"repository:app:pull", "repository:app:push,pull"}
				if diff := cmp.Diff(want, a.scopes); diff != "" {
					t.Errorf("token scopes (-want +got):\n%s", diff)
				}
			}
			if strings.Contains(logs.String(), testPassword) || strings.Contains(logs.String(), "tok:") {
				t.Errorf("debug log leaks a secret:\n%s", logs.String())
			}
			if !strings.Contains(logs.String(), "registry request") {
				t.Errorf("no debug log of requests:\n%s", logs.String())
			}

			// Wrong password: a clear, sentinel-matching error without the password.
			bad := ocitest.Client(t, host, oci.WithCredentials(host, testUser, "wrong-"+testPassword))
			_, err := bad.Resolve(ctx, s.Ref.String())
			if !errors.Is(err, oci.ErrDenied) {
				t.Errorf("Resolve(wrong password) = %v, want oci.ErrDenied", err)
			}
			if err != nil && (strings.Contains(err.Error(), testPassword) || strings.Contains(err.Error(), "scope=")) {
				t.Errorf("error leaks the password: %v", err)
			}
			// Anonymous: denied as well.
			anon := ocitest.Client(t, host, oci.WithKeychain(authn.NewMultiKeychain()))
			if _, err := anon.Resolve(ctx, s.Ref.String()); !errors.Is(err, oci.ErrDenied) {
				t.Errorf("Resolve(anonymous) = %v, want oci.ErrDenied", err)
			}
		})
	}
}

// pushViaClient publishes a subject with the authenticated client: an empty
// OCI artifact is enough to sign.
func pushViaClient(t *testing.T, c *oci.Client, host string) oci.Subject {
	t.Helper()
	repo, err := name.NewRepository(host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	s, err := oci.PushEmptyArtifact(ocitest.Context(t), c, repo, "v1")
	if err != nil {
		t.Fatalf("PushEmptyArtifact() = %v", err)
	}
	return s
}

func TestDockerConfigCredentials(t *testing.T) {
	host, _ := startAuthRegistry(t, false)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword)))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	c := ocitest.Client(t, host, oci.WithWriteAccess())
	pushViaClient(t, c, host)
}

func TestWriteAccessNeedsOneToken(t *testing.T) {
	ctx := ocitest.Context(t)
	host, a := startAuthRegistry(t, false)
	c := ocitest.Client(t, host, oci.WithCredentials(host, testUser, testPassword), oci.WithWriteAccess())
	s := pushViaClient(t, c, host)
	if _, err := bundle.Put(ctx, c, s, bundle.Artifact{Bundle: ocitest.Bundle(1), Content: bundle.ContentDSSE}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"repository:app:push,pull"}, a.scopes); diff != "" {
		t.Errorf("token scopes (-want +got):\n%s", diff)
	}
}

// TestHTTPOnlyForInsecureHosts: without WithInsecureHosts, a loopback registry
// is spoken to over HTTPS only, and the failure is not retried.
func TestHTTPOnlyForInsecureHosts(t *testing.T) {
	ctx := ocitest.Context(t)
	host := ocitest.StartGGCR(t, false)
	ocitest.PushImage(t, host, "app")
	ct := &oci.CountingTransport{}
	c, err := oci.New(oci.WithTransport(ct), oci.WithRetry(5, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(ctx, host+"/app:latest")
	if err == nil || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("Resolve() over plain HTTP without oci.WithInsecureHosts = %v, want an HTTPS error", err)
	}
	if n := ct.Total(); n != 1 {
		t.Errorf("%d requests, want 1 (TLS failures are not retried)", n)
	}
	other, err := oci.New(oci.WithInsecureHosts("127.0.0.1:1"), oci.WithTransport(ct))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Resolve(ctx, host+"/app:latest"); err == nil {
		t.Error("an insecure host allows another port")
	}
}

func TestOptionsValidation(t *testing.T) {
	for name, opt := range map[string]oci.Option{
		"empty password": oci.WithCredentials("ghcr.io", "u", ""),
		"bad host":       oci.WithCredentials("Not A Host/x", "u", "p"),
		"jobs":           oci.WithJobs(0),
		"retry":          oci.WithRetry(0, 0),
		"nil transport":  oci.WithTransport(nil),
		"nil keychain":   oci.WithKeychain(nil),
		"nil logger":     oci.WithLogger(nil),
		"settle":         oci.WithSettleDelay(-1),
		"insecure":       oci.WithInsecureHosts("a b"),
	} {
		_, err := oci.New(opt)
		if err == nil {
			t.Errorf("%s: oci.New() succeeded", name)
		}
		if err != nil && strings.Contains(err.Error(), "p\"") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// TestExpiredTokenReplaysBody: when a token expires mid-run the bearer
// transport fetches a new one and repeats the request, body included.
func TestExpiredTokenReplaysBody(t *testing.T) {
	ctx := ocitest.Context(t)
	host, a := startAuthRegistry(t, false)
	c := ocitest.Client(t, host, oci.WithCredentials(host, testUser, testPassword), oci.WithWriteAccess())
	s := pushViaClient(t, c, host)
	for i := range 2 {
		a.expire.Store(1)
		if _, err := bundle.Put(ctx, c, s, bundle.Artifact{Bundle: ocitest.Bundle(i), Content: bundle.ContentDSSE}); err != nil {
			t.Fatalf("bundle.Put() after token expiry = %v", err)
		}
		if n := a.expire.Load(); n >= 0 {
			t.Errorf("the expiry was not hit")
		}
	}
	if got, err := bundle.List(ctx, c, s, bundle.Filter{}); err != nil || len(got) != 2 {
		t.Fatalf("bundle.List() = %d, %v", len(got), err)
	}
}
