package testbed

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sigstoretuf "github.com/sigstore/sigstore/pkg/tuf"
)

// TestTUF checks that the repository StartTUF serves is one that sigstore/sigstore's TUF client,
// the one cosign's library and Kyverno use, accepts from a cache InitCache made, without going
// back to the mirror, and that the cache holds only what the signed metadata vouches for.
//
// pkg/tuf keeps one client per process, bound to the first TUF_ROOT it reads: no other test in
// this package may use it.
func TestTUF(t *testing.T) {
	target := []byte(`{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
	repo := StartTUF(t, map[string][]byte{"trusted_root.json": target})
	dir := repo.InitCache(t)

	fetched := repo.Requests()
	for _, want := range []string{"2.root.json", "timestamp.json", "snapshot.json", "targets.json", "targets/trusted_root.json"} {
		if !slices.Contains(fetched, want) {
			t.Errorf("InitCache did not fetch %s; it fetched %q", want, fetched)
		}
	}

	t.Setenv(sigstoretuf.TufRootEnv, dir)
	client, err := sigstoretuf.NewFromEnv(context.Background())
	if err != nil {
		t.Fatalf("pkg/tuf.NewFromEnv() with the cache = %v", err)
	}
	if client.Mirror() != repo.URL {
		t.Errorf("mirror = %q, want %q", client.Mirror(), repo.URL)
	}
	got, err := client.GetTarget("trusted_root.json")
	if err != nil {
		t.Fatalf("GetTarget(trusted_root.json) = %v", err)
	}
	if !bytes.Equal(got, target) {
		t.Errorf("GetTarget(trusted_root.json) = %s, want %s", got, target)
	}
	if after := repo.Requests(); len(after) != len(fetched) {
		t.Errorf("the client went back to the mirror for %q; the cache should be enough", after[len(fetched):])
	}

	// The client checks the cached target against the signed targets metadata.
	if err := os.WriteFile(filepath.Join(dir, "targets", "trusted_root.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetTarget("trusted_root.json"); err == nil || !strings.Contains(err.Error(), "invalid target") {
		t.Errorf("GetTarget() of a tampered cache = %v, want an invalid target error", err)
	}

	// A client that trusts another repository's root refuses this one's metadata.
	other := StartTUF(t, map[string][]byte{"trusted_root.json": target})
	err = initTUFCache(t.TempDir(), repo.URL, other.RootJSON)
	if err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("initializing from %s with another repository's root = %v, want a signature error", repo.URL, err)
	}
}
