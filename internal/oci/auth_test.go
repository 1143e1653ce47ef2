package oci

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
			ctx := testContext(t)
			host, a := startAuthRegistry(t, basic)
			// Push a subject with a separate client, then publish and verify as a
			// CI job would: resolve, publish, read back.
			s := pushViaClient(t, testClient(t, host, WithCredentials(host, testUser, testPassword)), host)
			a.mu.Lock()
			a.scopes = nil
			a.mu.Unlock()
			var logs bytes.Buffer
			c := testClient(t, host, WithCredentials(host, testUser, testPassword),
				WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			if _, err := c.Resolve(ctx, s.Ref.String()); err != nil {
				t.Fatalf("Resolve() = %v", err)
			}
			if _, err := c.PutBundle(ctx, s, BundleArtifact{Bundle: testBundle(1), Content: ContentDSSE}); err != nil {
				t.Fatalf("PutBundle() = %v", err)
			}
			if got, err := c.Bundles(ctx, s, BundleFilter{}); err != nil || len(got) != 1 {
				t.Fatalf("Bundles() = %d, %v", len(got), err)
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
			bad := testClient(t, host, WithCredentials(host, testUser, "wrong-"+testPassword))
			_, err := bad.Resolve(ctx, s.Ref.String())
			if !errors.Is(err, ErrDenied) {
				t.Errorf("Resolve(wrong password) = %v, want ErrDenied", err)
			}
			if err != nil && (strings.Contains(err.Error(), testPassword) || strings.Contains(err.Error(), "scope=")) {
				t.Errorf("error leaks the password: %v", err)
			}
			// Anonymous: denied as well.
			anon := testClient(t, host, WithKeychain(authn.NewMultiKeychain()))
			if _, err := anon.Resolve(ctx, s.Ref.String()); !errors.Is(err, ErrDenied) {
				t.Errorf("Resolve(anonymous) = %v, want ErrDenied", err)
			}
		})
	}
}

// pushViaClient publishes a subject with the authenticated client: an empty
// OCI artifact is enough to sign.
func pushViaClient(t *testing.T, c *Client, host string) Subject {
	t.Helper()
	ctx := testContext(t)
	repo, err := name.NewRepository(host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.repo(ctx, repo, true)
	if err != nil {
		t.Fatalf("repo() = %v", err)
	}
	if err := c.ensureEmptyConfig(ctx, rc); err != nil {
		t.Fatal(err)
	}
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"` + emptyDigest.String() + `"},"layers":[]}`)
	if _, err := c.putManifest(ctx, rc, "v1", "application/vnd.oci.image.manifest.v1+json", m, ""); err != nil {
		t.Fatalf("putManifest() = %v", err)
	}
	s, err := c.Resolve(ctx, host+"/app:v1")
	if err != nil {
		t.Fatalf("Resolve() = %v", err)
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
	c := testClient(t, host, WithWriteAccess())
	pushViaClient(t, c, host)
}

func TestWriteAccessNeedsOneToken(t *testing.T) {
	ctx := testContext(t)
	host, a := startAuthRegistry(t, false)
	c := testClient(t, host, WithCredentials(host, testUser, testPassword), WithWriteAccess())
	s := pushViaClient(t, c, host)
	if _, err := c.PutBundle(ctx, s, BundleArtifact{Bundle: testBundle(1), Content: ContentDSSE}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"repository:app:push,pull"}, a.scopes); diff != "" {
		t.Errorf("token scopes (-want +got):\n%s", diff)
	}
}

// TestHTTPOnlyForInsecureHosts: without WithInsecureHosts, a loopback registry
// is spoken to over HTTPS only, and the failure is not retried.
func TestHTTPOnlyForInsecureHosts(t *testing.T) {
	ctx := testContext(t)
	host := startGGCR(t, false)
	pushImage(t, host, "app")
	ct := &CountingTransport{}
	c, err := New(WithTransport(ct), WithRetry(5, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(ctx, host+"/app:latest")
	if err == nil || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("Resolve() over plain HTTP without WithInsecureHosts = %v, want an HTTPS error", err)
	}
	if n := ct.Total(); n != 1 {
		t.Errorf("%d requests, want 1 (TLS failures are not retried)", n)
	}
	other, err := New(WithInsecureHosts("127.0.0.1:1"), WithTransport(ct))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Resolve(ctx, host+"/app:latest"); err == nil {
		t.Error("an insecure host allows another port")
	}
}

func TestOptionsValidation(t *testing.T) {
	for name, opt := range map[string]Option{
		"empty password": WithCredentials("ghcr.io", "u", ""),
		"bad host":       WithCredentials("Not A Host/x", "u", "p"),
		"jobs":           WithJobs(0),
		"retry":          WithRetry(0, 0),
		"nil transport":  WithTransport(nil),
		"nil keychain":   WithKeychain(nil),
		"nil logger":     WithLogger(nil),
		"settle":         WithSettleDelay(-1),
		"insecure":       WithInsecureHosts("a b"),
	} {
		_, err := New(opt)
		if err == nil {
			t.Errorf("%s: New() succeeded", name)
		}
		if err != nil && strings.Contains(err.Error(), "p\"") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// TestExpiredTokenReplaysBody: when a token expires mid-run the bearer
// transport fetches a new one and repeats the request, body included.
func TestExpiredTokenReplaysBody(t *testing.T) {
	ctx := testContext(t)
	host, a := startAuthRegistry(t, false)
	c := testClient(t, host, WithCredentials(host, testUser, testPassword), WithWriteAccess())
	s := pushViaClient(t, c, host)
	for i := range 2 {
		a.expire.Store(1)
		if _, err := c.PutBundle(ctx, s, BundleArtifact{Bundle: testBundle(i), Content: ContentDSSE}); err != nil {
			t.Fatalf("PutBundle() after token expiry = %v", err)
		}
		if n := a.expire.Load(); n >= 0 {
			t.Errorf("the expiry was not hit")
		}
	}
	if got, err := c.Bundles(ctx, s, BundleFilter{}); err != nil || len(got) != 2 {
		t.Fatalf("Bundles() = %d, %v", len(got), err)
	}
}
