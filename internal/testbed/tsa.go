package testbed

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TSA is a running RFC 3161 timestamp authority (sigstore's timestamp-server with the in-memory
// signer) on loopback. Every instance has a new certificate chain.
type TSA struct {
	// URL is the base URL, "http://127.0.0.1:PORT".
	URL string
	// Startup is how long the server took to serve its certificate chain, not counting the wait
	// for the machine-wide lock (see StartTSA).
	Startup time.Duration

	t testing.TB
}

// tsaLockWait bounds how long StartTSA waits for another timestamp-server to go away.
const tsaLockWait = 20 * time.Minute

// StartTSA starts a timestamp authority and stops it when the test ends.
//
// timestamp-server always binds its metrics listener on :2112 and no flag moves it, so only one
// can run on a machine at a time. StartTSA therefore holds an exclusive flock on
// $TMPDIR/seal-tsa.lock from start to cleanup: tests that use a TSA run one after another, across
// the separate test processes of `go test ./...` and within one process. Keep a test's use of a
// TSA short, and start at most one per test. Nothing else on the machine may listen on 2112.
func StartTSA(t testing.TB) *TSA {
	t.Helper()
	bin := Bin(t, BinTSA)
	lockTSA(t)
	// Holding the lock, a busy :2112 means a peer outside the testbed's control.
	if l, err := net.Listen("tcp", ":2112"); err != nil {
		t.Fatalf("timestamp-server needs port 2112, which is taken (%v); look for a leftover with `ss -ltnp 'sport = :2112'`", err)
	} else {
		l.Close()
	}
	dir := t.TempDir()
	ports, took := launch(t, spec{
		name:  "timestamp-server",
		bin:   bin,
		dir:   dir,
		ports: 1,
		args: func(ports []int) ([]string, error) {
			// An explicit, empty config file keeps viper from reading ~/.timestamp-server.yaml.
			cfg := filepath.Join(dir, "timestamp-server.yaml")
			if err := os.WriteFile(cfg, nil, 0o600); err != nil {
				return nil, fmt.Errorf("writing config: %w", err)
			}
			return []string{"serve",
				"--config", cfg,
				"--host", "127.0.0.1", "--port", fmt.Sprint(ports[0]),
				"--timestamp-signer", "memory",
				"--disable-ntp-monitoring",
				"--log-type", "dev",
			}, nil
		},
		ready: func(ports []int) string {
			return "http://" + hostPort(ports[0]) + "/api/v1/timestamp/certchain"
		},
	})
	return &TSA{URL: "http://" + hostPort(ports[0]), Startup: took, t: t}
}

// TimestampURL returns the RFC 3161 endpoint, the URL signers (sigstore-go's
// TimestampAuthorityOptions.URL, cosign's --timestamp-server-url) take.
func (a *TSA) TimestampURL() string { return a.URL + "/api/v1/timestamp" }

// ChainPEM returns the TSA's certificate chain in PEM, leaf first and root last, as
// GET /api/v1/timestamp/certchain serves it.
func (a *TSA) ChainPEM() []byte {
	a.t.Helper()
	return getPEM(a.t, a.URL+"/api/v1/timestamp/certchain")
}

// Chain returns ChainPEM parsed, leaf first.
func (a *TSA) Chain() []*x509.Certificate {
	a.t.Helper()
	return parseCerts(a.t, a.ChainPEM())
}

// lockTSA takes the machine-wide TSA lock and releases it on cleanup. It registers the release
// before launch registers the kill, so the lock is held until the server has exited.
func lockTSA(t testing.TB) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "seal-tsa.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	deadline := time.Now().Add(tsaLockWait)
	waited := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			t.Fatalf("locking %s: %v", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("another timestamp-server held %s for %s; is a test starting two?", path, tsaLockWait)
		}
		if !waited {
			t.Logf("waiting for %s: another test runs a timestamp-server", path)
			waited = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}
