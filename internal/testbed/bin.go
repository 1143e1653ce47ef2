package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Names of the peer binaries that .ci/peers.sh installs, relative to the bin directory.
const (
	BinRegistry = "registry"         // CNCF distribution v3.1.2
	BinOlareg   = "olareg"           // olareg v0.1.2
	BinCosign   = "cosign"           // cosign v2
	BinCosignV3 = "v3/cosign"        // cosign v3
	BinFulcio   = "fulcio"           // Fulcio v1.8.8
	BinTSA      = "timestamp-server" // sigstore timestamp-authority v1.2.9
	BinGH       = "gh"               // GitHub CLI
	BinAct      = "act"              // nektos/act v0.2.89, a third-party GitHub Actions runner
	BinTester   = "tester"           // sigstore policy-controller's tester
	BinRekorV2  = "rekor-server-v2"  // Rekor v2 (rekor-tiles v2.3.0, POSIX storage)
	BinRekorV1  = "rekor-server-v1"  // Rekor v1 (rekor v1.5.3, metrics moved off :2112)
	BinTrillian = "trillian-memory"  // Trillian v1.7.3 log server + sequencer, in memory (.ci/trillian-memory)
)

const (
	envPeersBin  = "SEAL_PEERS_BIN"
	envRequire   = "SEAL_REQUIRE_PEERS"
	peersCommand = ".ci/peers.sh"
)

// BinDir returns the directory holding the peer binaries: $SEAL_PEERS_BIN, or else
// ~/.cache/seal-peers/bin, where .ci/peers.sh puts them by default.
func BinDir() string {
	if d := os.Getenv(envPeersBin); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "seal-peers", "bin")
}

// Bin returns the path of the peer binary name (for example BinFulcio or "v3/cosign"). A missing
// peer is built on first use by .ci/peers.sh (once per machine: test binaries of other packages wait
// on a lock), so `go test ./...` on a fresh machine runs the whole suite. When that build fails the
// test is skipped, or fails when SEAL_REQUIRE_PEERS=1, so that CI cannot go green by skipping every
// interoperability test.
func Bin(t testing.TB, name string) string {
	t.Helper()
	dir := BinDir()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if executable(p) {
		return p
	}
	if err := buildPeers(dir); err != nil {
		t.Logf("building peers: %v", err)
	} else if executable(p) {
		return p
	}
	if RequirePeers() {
		t.Fatalf("peer binary %q not found in %s and %s=1; run %s", name, dir, envRequire, peersCommand)
	}
	t.Skipf("peer binary %q not found in %s; run %s to build the peers (or set %s)", name, dir, peersCommand, envPeersBin)
	return ""
}

// RequirePeers reports whether missing peers must fail tests instead of skipping them.
func RequirePeers() bool { return os.Getenv(envRequire) == "1" }

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

var buildOnce struct {
	sync.Mutex
	done bool
	err  error
}

// buildPeers runs .ci/peers.sh from the module root into dir's parent,
// holding an exclusive lock so that parallel test binaries build once.
func buildPeers(dir string) error {
	buildOnce.Lock()
	defer buildOnce.Unlock()
	if buildOnce.done {
		return buildOnce.err
	}
	buildOnce.done = true
	root, err := moduleRoot()
	if err != nil {
		buildOnce.err = err
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		buildOnce.err = err
		return err
	}
	unlock, err := lockFile(filepath.Join(dir, ".build.lock"), 30*time.Minute)
	if err != nil {
		buildOnce.err = err
		return err
	}
	defer unlock()
	cmd := exec.Command("bash", filepath.Join(root, peersCommand), filepath.Dir(dir))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		buildOnce.err = fmt.Errorf("%s: %v\n%s", peersCommand, err, lastBytes(out, 2000))
	}
	return buildOnce.err
}

func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, peersCommand)); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%s not found above the test's directory", peersCommand)
		}
		d = parent
	}
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// lockFile takes an exclusive flock on path, waiting up to wait.
func lockFile(path string, wait time.Duration) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%s held for more than %s", path, wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
