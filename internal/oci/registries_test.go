package oci

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Shared test helpers for starting registries. internal/testbed will offer the
// same; switch to it once it lands.

// peerBin returns the path of a peer binary built by .ci/peers.sh, or skips.
func peerBin(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("SEAL_PEERS")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "seal-peers")
	}
	p := filepath.Join(dir, "bin", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("peer %s not built (run .ci/peers.sh): %v", rel, err)
	}
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitHTTP polls url until it answers at all.
func waitHTTP(t testing.TB, url string, exited <-chan struct{}, logPath string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("server for %s exited:\n%s", url, out)
		case <-time.After(25 * time.Millisecond):
		}
	}
	out, _ := os.ReadFile(logPath)
	t.Fatalf("%s did not come up:\n%s", url, out)
}

// startProcess runs a server until the test ends.
func startProcess(t testing.TB, name string, args []string, env []string) (<-chan struct{}, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		lf.Close()
	})
	return exited, logPath
}

// startDistribution runs the CNCF distribution registry (no referrers API)
// with storage in a temporary directory and returns its host:port.
func startDistribution(t testing.TB) string {
	t.Helper()
	bin := peerBin(t, "registry")
	port := freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: 127.0.0.1:%d
`, filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	exited, logPath := startProcess(t, "registry", []string{bin, "serve", cfg}, []string{"OTEL_TRACES_EXPORTER=none"})
	host := "127.0.0.1:" + strconv.Itoa(port)
	waitHTTP(t, "http://"+host+"/v2/", exited, logPath)
	return host
}

// startOlareg runs olareg (with the referrers API) and returns its host:port.
func startOlareg(t testing.TB) string {
	t.Helper()
	bin := peerBin(t, "olareg")
	port := freePort(t)
	exited, logPath := startProcess(t, "olareg", []string{bin, "serve", "--dir", t.TempDir(), "--addr", "127.0.0.1",
		"--port", strconv.Itoa(port), "--gc-frequency=-1s"}, nil)
	host := "127.0.0.1:" + strconv.Itoa(port)
	waitHTTP(t, "http://"+host+"/v2/", exited, logPath)
	return host
}

// startGGCR runs go-containerregistry's in-process registry. With referrers it
// has the referrers API but, unlike the spec asks, answers no OCI-Subject.
func startGGCR(t testing.TB, referrers bool) string {
	t.Helper()
	h := registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// registryKind describes a registry under test.
type registryKind struct {
	name string
	// start returns the host:port of a fresh registry.
	start func(testing.TB) string
	// subject is whether the registry processes subject (answers OCI-Subject).
	subject bool
}

var registryKinds = []registryKind{
	{name: "ggcr-referrers", start: func(t testing.TB) string { return startGGCR(t, true) }},
	{name: "ggcr-plain", start: func(t testing.TB) string { return startGGCR(t, false) }},
	{name: "distribution", start: startDistribution},
	{name: "olareg", start: startOlareg, subject: true},
}

// testClient returns a client for a loopback registry with fast retries.
func testClient(t testing.TB, host string, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithInsecureHosts(host), WithRetry(4, 5*time.Millisecond), WithSettleDelay(10 * time.Millisecond)}
	c, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c
}

// pushImage pushes a small random image and returns repository@digest.
func pushImage(t testing.TB, host, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	ref, err := name.ParseReference(host + "/" + repo + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("remote.Write() = %v", err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(h.String())
}

// pushIndex pushes an index of two platform images and a BuildKit attestation
// manifest, tagged "multi".
func pushIndex(t testing.TB, host, repo string) (name.Digest, []v1.Hash) {
	t.Helper()
	var adds []mutate.IndexAddendum
	var platforms []v1.Hash
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(32, 1)
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		h, _ := img.Digest()
		platforms = append(platforms, h)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	att, _ := random.Image(16, 1)
	att = mutate.MediaType(att, types.OCIManifestSchema1)
	adds = append(adds, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"},
	}})
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	ref, err := name.ParseReference(host + "/" + repo + ":multi")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("remote.WriteIndex() = %v", err)
	}
	h, _ := idx.Digest()
	return ref.Context().Digest(h.String()), platforms
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
