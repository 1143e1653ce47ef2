package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gotuf "github.com/theupdateframework/go-tuf"
	tufclient "github.com/theupdateframework/go-tuf/client"
	tufleveldb "github.com/theupdateframework/go-tuf/client/leveldbstore"
)

// tufExpiry is how long the testbed's TUF metadata stays valid: long enough that no client ever
// sees it expire and goes back to the mirror during a test.
const tufExpiry = 10 * 365 * 24 * time.Hour

// TUF is a TUF repository (root, targets, snapshot and timestamp metadata, each role signed by its
// own fresh ed25519 key, valid for ten years, no consistent snapshots) served over plain HTTP on
// loopback, the way Sigstore distributes its trusted_root.json. Verifiers that take their trust
// material only from TUF, like Kyverno for SigstoreBundle, are pointed at it with a client cache
// from InitCache.
type TUF struct {
	// URL is the mirror, "http://127.0.0.1:PORT": metadata at URL/NAME.json, targets at
	// URL/targets/NAME.
	URL string
	// RootJSON is the signed root metadata (version 1), the initial root clients must trust.
	RootJSON []byte

	mu       sync.Mutex
	requests []string
}

// StartTUF builds a TUF repository whose targets role lists targets (name to content, for
// example "trusted_root.json" from TrustedRootJSON), serves it on loopback and stops it when the
// test ends.
func StartTUF(t testing.TB, targets map[string][]byte) *TUF {
	t.Helper()
	meta, err := buildTUFRepo(targets)
	if err != nil {
		t.Fatalf("building TUF repository: %v", err)
	}
	u := &TUF{RootJSON: meta["root.json"]}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		u.mu.Lock()
		u.requests = append(u.requests, name)
		u.mu.Unlock()
		body, ok := meta[name]
		if target, isTarget := strings.CutPrefix(name, "targets/"); isTarget {
			body, ok = targets[target]
		}
		if r.Method != http.MethodGet || !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// Requests returns the paths clients have asked the mirror for so far, in order, without the
// leading slash ("timestamp.json", "targets/trusted_root.json", ...).
func (u *TUF) Requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.requests...)
}

// buildTUFRepo signs the four top-level roles for targets and returns every metadata file the
// mirror serves, by name ("root.json", "1.root.json", "targets.json", ...).
func buildTUFRepo(targets map[string][]byte) (map[string]json.RawMessage, error) {
	files := make(map[string][]byte, len(targets))
	names := make([]string, 0, len(targets))
	for name, b := range targets {
		files[name] = b
		names = append(names, name)
	}
	store := gotuf.MemoryStore(nil, files)
	repo, err := gotuf.NewRepoWithOpts(store, gotuf.WithLogger(log.New(io.Discard, "", 0)))
	if err != nil {
		return nil, err
	}
	if err := repo.Init(false); err != nil {
		return nil, fmt.Errorf("initializing: %w", err)
	}
	expires := time.Now().Add(tufExpiry).UTC().Truncate(time.Second)
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		if _, err := repo.GenKeyWithExpires(role, expires); err != nil {
			return nil, fmt.Errorf("generating the %s key: %w", role, err)
		}
	}
	if err := repo.AddTargetsWithExpires(names, nil, expires); err != nil {
		return nil, fmt.Errorf("adding targets: %w", err)
	}
	if err := repo.SnapshotWithExpires(expires); err != nil {
		return nil, fmt.Errorf("signing snapshot: %w", err)
	}
	if err := repo.TimestampWithExpires(expires); err != nil {
		return nil, fmt.Errorf("signing timestamp: %w", err)
	}
	if err := repo.Commit(); err != nil {
		return nil, fmt.Errorf("committing: %w", err)
	}
	return store.GetMeta()
}

// InitCache makes a TUF client cache for this repository in a new temporary directory and
// returns the directory, for TUF_ROOT. The layout is that of sigstore/sigstore's pkg/tuf client
// (go-tuf v0.7), which cosign's library and Kyverno read: the verified metadata in a LevelDB at
// tuf.db, the targets under targets/, and the mirror in remote.json. The cache is filled by a
// real TUF update from the mirror, starting from RootJSON, so every target in it has been
// checked against the signed metadata. The metadata outlives the test, so clients reading the
// cache do not contact the mirror again.
//
// This does what pkg/tuf.Initialize does, without that package's process-wide client, which is
// bound to the first TUF_ROOT it sees.
func (u *TUF) InitCache(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := initTUFCache(dir, u.URL, u.RootJSON); err != nil {
		t.Fatalf("initializing a TUF cache from %s: %v", u.URL, err)
	}
	return dir
}

// initTUFCache updates a client that trusts rootJSON from mirror and stores what it verified in
// dir.
func initTUFCache(dir, mirror string, rootJSON []byte) (err error) {
	local, err := tufleveldb.FileLocalStore(filepath.Join(dir, "tuf.db"))
	if err != nil {
		return fmt.Errorf("opening tuf.db: %w", err)
	}
	defer func() {
		if cerr := local.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing tuf.db: %w", cerr)
		}
	}()
	remote, err := tufclient.HTTPRemoteStore(mirror, nil, nil)
	if err != nil {
		return err
	}
	c := tufclient.NewClient(local, remote)
	if err := c.Init(rootJSON); err != nil {
		return fmt.Errorf("trusting the initial root: %w", err)
	}
	targets, err := c.Update()
	if err != nil {
		return fmt.Errorf("updating metadata: %w", err)
	}
	tdir := filepath.Join(dir, "targets")
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		return err
	}
	for name := range targets {
		var buf destination
		if err := c.Download(name, &buf); err != nil {
			return fmt.Errorf("downloading %s: %w", name, err)
		}
		// pkg/tuf keeps a target at targets/<url.PathEscape(name)>.
		if err := os.WriteFile(filepath.Join(tdir, url.PathEscape(name)), buf.Bytes(), 0o600); err != nil {
			return err
		}
	}
	remoteJSON, err := json.Marshal(map[string]string{"mirror": mirror})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "remote.json"), remoteJSON, 0o600)
}

// destination is a go-tuf download destination in memory.
type destination struct{ bytes.Buffer }

func (d *destination) Delete() error {
	d.Reset()
	return nil
}
