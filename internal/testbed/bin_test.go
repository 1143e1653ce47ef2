package testbed

import (
	"bytes"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a progress writer the ticker and the build may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPeerProgress feeds peerProgress what .ci/peers.sh prints, in pieces that split lines, and
// checks that it names each peer as it starts, says when it is built and how long it took, keeps
// quiet about the rest (go's download lines), and keeps everything for an error message.
func TestPeerProgress(t *testing.T) {
	var tty lockedBuffer
	p := &peerProgress{w: &tty, start: time.Now()}
	out := "peers: building registry from github.com/distribution/distribution/v3/cmd/registry@v3.1.2\n" +
		"go: downloading github.com/distribution/distribution/v3 v3.1.2\n" +
		"peers: building cosign from github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5\n"
	for _, piece := range []string{out[:20], out[20:97], out[97:]} {
		if _, err := p.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	p.stillBuilding()
	p.done(nil)
	got := tty.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^seal testbed: \[0s\] building peer 1, registry from github.com/distribution/distribution/v3/cmd/registry@v3.1.2 \(first use`),
		regexp.MustCompile(`(?m)^seal testbed: \[0s\] registry built in 0s$`),
		regexp.MustCompile(`(?m)^seal testbed: \[0s\] building peer 2, cosign from github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5 `),
		regexp.MustCompile(`(?m)^seal testbed: \[0s\] still building cosign \(0s so far\)$`),
		regexp.MustCompile(`(?m)^seal testbed: \[0s\] cosign built in 0s$`),
	} {
		if !want.MatchString(got) {
			t.Errorf("progress does not match %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "downloading") {
		t.Errorf("progress repeats go's own output:\n%s", got)
	}
	if string(p.output()) != out {
		t.Errorf("output() = %q, want everything peers.sh printed", p.output())
	}
	if !p.built() {
		t.Error("built() = false after two peers")
	}

	var failed lockedBuffer
	p = &peerProgress{w: &failed, start: time.Now()}
	_, _ = p.Write([]byte("peers: building kyverno from github.com/kyverno/kyverno@v1.19.1\n"))
	p.done(errors.New("exit status 1"))
	if !strings.Contains(failed.String(), "building kyverno failed: exit status 1") {
		t.Errorf("a failed build is not reported:\n%s", failed.String())
	}
}

// TestLockFileWaiting holds the build lock and checks that a second taker says it is waiting.
func TestLockFileWaiting(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".build.lock")
	unlock, err := lockFile(path, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	waits := make(chan time.Duration, 10)
	done := make(chan error)
	go func() {
		u, err := lockFile(path, time.Minute, func(d time.Duration) { waits <- d })
		if err == nil {
			u()
		}
		done <- err
	}()
	select {
	case <-waits:
	case <-time.After(10 * time.Second):
		t.Fatal("the second lockFile did not report that it waits")
	}
	unlock()
	if err := <-done; err != nil {
		t.Errorf("lockFile after release = %v", err)
	}
}
