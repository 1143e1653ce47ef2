package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestExitCodes checks each class of exit code: 2 for every usage error
// (a flag, an argument, a file, a reference), found before any network
// call; 1 for a failed check or service, the deadline included. A file
// input never ends in a Go runtime trace, whatever it holds or however
// long it is.
func TestExitCodes(t *testing.T) {
	// Every network call of a usage error would reach this server.
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	host := srv.Listener.Addr().String()
	// A registry that answers nothing.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	silent := l.Addr().String()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	dir := t.TempDir()
	pub := filepath.Join("..", "policy", "testdata", "cosign.pub")
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), 9<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	img := host + "/app@sha256:" + strings.Repeat("a", 64)
	verify := func(extra ...string) []string {
		return append([]string{"verify", "--key", pub, "--insecure-registry", host}, extra...)
	}
	keyed := func(verb string, extra ...string) []string {
		return append([]string{verb, "--key", filepath.Join("..", "keys", "testdata", "cosign.key"), "--insecure-registry", host}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown flag", []string{"sign", "--nope", img}, 2, "unknown flag: --nope"},
		{"no image", []string{"sign"}, 2, "accepts 1 arg(s), received 0"},
		{"bad --timeout", []string{"verify", "--timeout", "soon", img}, 2, `invalid argument "soon" for "--timeout"`},
		{"space in the reference, verify", verify("ghcr.io/acme/app 1"), 2, `parsing image reference "ghcr.io/acme/app 1"`},
		{"capitals in the reference, verify", verify("ghcr.io/Acme/app:1"), 2, "a repository name must be lowercase"},
		{"capitals in the reference, sign", keyed("sign", "ghcr.io/Acme/app:1"), 2, "a repository name must be lowercase"},
		{"missing key file", []string{"verify", "--key", filepath.Join(dir, "nope.pub"), img}, 2, "--key: reading key file"},
		{"missing predicate", keyed("attest", "--predicate", filepath.Join(dir, "nope.json"), img), 2, "--predicate " + filepath.Join(dir, "nope.json") + ": no such file or directory"},
		{"endless predicate", keyed("attest", "--predicate", "/dev/zero", img), 2, "--predicate /dev/zero: input too large: more than the limit of 64 MiB"},
		{"predicate is a directory", keyed("attest", "--predicate", dir, img), 2, "is a directory, not a file"},
		{"endless VSA", keyed("attest", "--vsa", "/dev/zero", img), 2, "--vsa /dev/zero: input too large: more than the limit of 8 MiB"},
		{"endless bundle", verify("--bundle", "/dev/zero", "file.tgz"), 2, "--bundle /dev/zero: input too large"},
		{"oversized trusted root", []string{"verify", "--certificate-identity", "x", "--certificate-oidc-issuer", "https://i", "--trusted-root", big, img}, 2, "--trusted-root " + big + ": input too large: 9437184 bytes, more than the limit of 8 MiB"},
		{"endless signing config", keyed("sign", "--signing-config", "/dev/zero", img), 2, "--signing-config /dev/zero: input too large"},
		{"endless TUF root", []string{"policy", "kyverno", "--key", pub, "--image", "r/**", "--tuf-root", "/dev/zero"}, 2, "--tuf-root /dev/zero: input too large"},
		{"registry fails", verify(img), 1, "503 Service Unavailable"},
		{"registry silent past --timeout", []string{"verify", "--key", pub, "--insecure-registry", silent, "--timeout", "2s", silent + "/app@sha256:" + strings.Repeat("a", 64)}, 1, "gave up after 2s (--timeout; 0 for no limit)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := Execute(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
			if strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("stderr holds a Go trace:\n%s", stderr.String())
			}
			if n := calls.Load(); tc.code == 2 && n > 0 {
				t.Errorf("a usage error made %d network calls", n)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
