package testbed

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Names of the peer binaries that .ci/peers.sh installs, relative to the bin directory.
const (
	BinRegistry  = "registry"         // CNCF distribution v3.1.2
	BinOlareg    = "olareg"           // olareg v0.1.2
	BinCosign    = "cosign"           // cosign v2
	BinCosignV3  = "v3/cosign"        // cosign v3
	BinFulcio    = "fulcio"           // Fulcio v1.8.8
	BinTSA       = "timestamp-server" // sigstore timestamp-authority v1.2.9
	BinGH        = "gh"               // GitHub CLI
	BinAct       = "act"              // nektos/act v0.2.89, a third-party GitHub Actions runner
	BinTester    = "tester"           // sigstore policy-controller's tester (v0.13.1)
	BinTesterV15 = "tester-v15"       // sigstore policy-controller's tester (v0.15.1)
	BinRekorV2   = "rekor-server-v2"  // Rekor v2 (rekor-tiles v2.3.0, POSIX storage)
	BinRekorV1   = "rekor-server-v1"  // Rekor v1 (rekor v1.5.3, metrics moved off :2112)
	BinTrillian  = "trillian-memory"  // Trillian v1.7.3 log server + sequencer, in memory (.ci/trillian-memory)
	BinLocalKMS  = "local-kms"        // nsmithuk/local-kms, an AWS KMS emulator, bound to loopback
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
// on a lock), so `go test ./...` on a fresh machine runs the whole suite; the build reports its
// progress on the terminal. When that build fails the test is skipped, or fails when
// SEAL_REQUIRE_PEERS=1, so that CI cannot go green by skipping every interoperability test.
// With -short (and without SEAL_REQUIRE_PEERS=1) every test that needs a peer is skipped: the
// unit tests run in seconds, without building anything.
func Bin(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() && !RequirePeers() {
		t.Skipf("-short: skipping a test that needs the peer %q (run without -short for the real peers)", name)
	}
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
	tty, closeTTY := progressWriter()
	defer closeTTY()
	start := time.Now()
	unlock, err := lockFile(filepath.Join(dir, ".build.lock"), 30*time.Minute, func(waited time.Duration) {
		fmt.Fprintf(tty, "seal testbed: [%s] waiting for another test process to finish building the peers in %s\n", round(waited), dir)
	})
	if err != nil {
		buildOnce.err = err
		return err
	}
	defer unlock()
	cmd := exec.Command("bash", filepath.Join(root, peersCommand), filepath.Dir(dir))
	cmd.Dir = root
	// peers.sh takes the same lock when run by hand or by .ci/run; it is held here already.
	cmd.Env = append(os.Environ(), "SEAL_PEERS_LOCK_HELD=1")
	p := &peerProgress{w: tty, start: time.Now()}
	cmd.Stdout, cmd.Stderr = p, p
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				p.stillBuilding()
			}
		}
	}()
	err = cmd.Run()
	p.done(err)
	if err != nil {
		buildOnce.err = fmt.Errorf("%s: %v\n%s", peersCommand, err, lastBytes(p.output(), 2000))
	} else if p.built() {
		fmt.Fprintf(tty, "seal testbed: [%s] peers ready in %s\n", round(time.Since(start)), dir)
	}
	return buildOnce.err
}

// progressWriter returns where the peers' build reports its progress: the terminal when there
// is one, because `go test ./...` shows what a test binary writes only once its package is done,
// and the build can take many minutes; else stderr (CI logs, go test -v).
func progressWriter() (io.Writer, func()) {
	if f, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		return f, func() { f.Close() }
	}
	return os.Stderr, func() {}
}

// peerProgress reads the output of .ci/peers.sh, keeps it for an error message, and reports the
// peer it is building (its "peers: building NAME from MODULE" lines), how long each took, and
// every minute that it is still at work.
type peerProgress struct {
	w     io.Writer
	start time.Time

	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	current string    // the peer being built
	since   time.Time // when it started
	count   int       // peers started
}

func (p *peerProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all.Write(b)
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		rest, ok := strings.CutPrefix(line, "peers: building ")
		if !ok {
			continue
		}
		now := time.Now()
		p.finish(now)
		p.current, p.since = strings.Fields(rest + " ?")[0], now
		p.count++
		fmt.Fprintf(p.w, "seal testbed: [%s] building peer %d, %s (first use on this machine; later runs reuse it)\n", round(now.Sub(p.start)), p.count, rest)
	}
	return len(b), nil
}

// finish reports the peer in progress as built; p.mu is held.
func (p *peerProgress) finish(now time.Time) {
	if p.current != "" {
		fmt.Fprintf(p.w, "seal testbed: [%s] %s built in %s\n", round(now.Sub(p.start)), p.current, round(now.Sub(p.since)))
	}
	p.current = ""
}

func (p *peerProgress) stillBuilding() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current != "" {
		now := time.Now()
		fmt.Fprintf(p.w, "seal testbed: [%s] still building %s (%s so far)\n", round(now.Sub(p.start)), p.current, round(now.Sub(p.since)))
	}
}

func (p *peerProgress) done(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.finish(time.Now())
	} else if p.current != "" {
		fmt.Fprintf(p.w, "seal testbed: [%s] building %s failed: %v\n", round(time.Since(p.start)), p.current, err)
	}
}

func (p *peerProgress) built() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count > 0
}

func (p *peerProgress) output() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.all.Bytes())
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }

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

// lockFile takes an exclusive flock on path, waiting up to wait. While it waits it calls
// waiting, when it starts to and then every minute.
func lockFile(path string, wait time.Duration, waiting func(waited time.Duration)) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(wait)
	var reported time.Time
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
		if waiting != nil && time.Since(reported) >= time.Minute {
			reported = time.Now()
			waiting(time.Since(start))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
