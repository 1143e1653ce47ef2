package oci_test

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/legacy"
	"github.com/sealsign/seal/internal/oci/ocitest"
)

// TestRequestCounts pins the request counts the doc comments promise, on a
// registry without referrers API or monolithic uploads (distribution) and on one
// with both (olareg). Neither asks for authentication, so there are no token
// requests.
func TestRequestCounts(t *testing.T) {
	type counts = map[string]int
	for _, tc := range []struct {
		rk ocitest.RegistryKind
		// first publish: ping, empty config and learning about the registry included
		resolve, firstBundle, bundle, bundles, firstSig, sigAgain, att, verifyBundles, verifyBundlesAgain, readSig counts
	}{
		{
			rk:      ocitest.RegistryKind{Name: "distribution", Start: ocitest.StartDistribution},
			resolve: counts{"GET": 1, "HEAD": 1}, // ping, HEAD manifest
			// HEAD+POST+PUT empty config, POST+PUT bundle, PUT manifest, fallback GET+HEAD+PUT+GET
			firstBundle: counts{"HEAD": 2, "POST": 2, "PUT": 4, "GET": 2},
			bundle:      counts{"HEAD": 1, "POST": 1, "PUT": 3, "GET": 2},
			// three bundles: POST+PUT each, three manifest PUTs, one fallback GET+HEAD+PUT+GET
			bundles: counts{"HEAD": 1, "POST": 3, "PUT": 7, "GET": 2},
			// POST+PUT layer, GET tag, POST+PUT config, HEAD tag (moved?), PUT manifest, GET check
			firstSig: counts{"HEAD": 1, "POST": 2, "PUT": 3, "GET": 2},
			sigAgain: counts{"POST": 1, "PUT": 1, "GET": 1},
			att:      counts{"HEAD": 1, "POST": 2, "PUT": 3, "GET": 2},
			// ping, referrers API (404), fallback tag, then manifest+blob per bundle
			verifyBundles:      counts{"GET": 13},
			verifyBundlesAgain: counts{"GET": 11},
			// manifest and one blob
			readSig: counts{"GET": 2},
		},
		{
			rk:      ocitest.RegistryKind{Name: "olareg", Start: ocitest.StartOlareg, Subject: true},
			resolve: counts{"GET": 1, "HEAD": 1},
			// HEAD+POST empty config, POST bundle, PUT manifest (OCI-Subject: no fallback)
			firstBundle:        counts{"HEAD": 1, "POST": 2, "PUT": 1},
			bundle:             counts{"POST": 1, "PUT": 1},
			bundles:            counts{"POST": 3, "PUT": 3},
			firstSig:           counts{"HEAD": 1, "POST": 2, "PUT": 1, "GET": 2},
			sigAgain:           counts{"POST": 1, "GET": 1},
			att:                counts{"HEAD": 1, "POST": 2, "PUT": 1, "GET": 2},
			verifyBundles:      counts{"GET": 12},
			verifyBundlesAgain: counts{"GET": 11},
			readSig:            counts{"GET": 2},
		},
	} {
		t.Run(tc.rk.Name, func(t *testing.T) {
			ctx := ocitest.Context(t)
			host := tc.rk.Start(t)
			img := ocitest.PushImage(t, host, "app")
			ct := &oci.CountingTransport{}
			// The settle delay sets only how long a checked update waits before
			// its read-back; the counts do not depend on it.
			c, err := oci.New(oci.WithInsecureHosts(host), oci.WithTransport(ct), oci.WithSettleDelay(400*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			step := func(name string, want counts, f func() error) {
				t.Helper()
				ct.Reset()
				if err := f(); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if diff := cmp.Diff(want, ct.Counts()); diff != "" {
					t.Errorf("%s requests (-want +got):\n%s", name, diff)
				}
			}
			var s oci.Subject
			step("Resolve", tc.resolve, func() (err error) { s, err = c.Resolve(ctx, img.String()); return err })
			step("first bundle.Put", tc.firstBundle, func() error {
				_, err := bundle.Put(ctx, c, s, bundle.Artifact{Bundle: ocitest.Bundle(1), Content: bundle.ContentDSSE})
				return err
			})
			step("bundle.Put", tc.bundle, func() error {
				_, err := bundle.Put(ctx, c, s, bundle.Artifact{Bundle: ocitest.Bundle(2), Content: bundle.ContentDSSE})
				return err
			})
			step("bundle.PutAll", tc.bundles, func() error {
				rs, err := bundle.PutAll(ctx, c, s, []bundle.Artifact{
					{Bundle: ocitest.Bundle(3), Content: bundle.ContentDSSE},
					{Bundle: ocitest.Bundle(4), Content: bundle.ContentDSSE},
					{Bundle: ocitest.Bundle(5), Content: bundle.ContentDSSE},
				})
				if len(rs) != 3 {
					t.Errorf("bundle.PutAll() returned %d results, want 3", len(rs))
				}
				return err
			})
			sig, _ := legacy.SignatureLayer([]byte(`{"critical":{}}`), []byte("s"), legacy.Material{})
			step("first legacy.Append", tc.firstSig, func() error {
				_, err := legacy.Append(ctx, c, s, legacy.Signature, []legacy.Layer{sig})
				return err
			})
			step("legacy.Append again", tc.sigAgain, func() error {
				_, err := legacy.Append(ctx, c, s, legacy.Signature, []legacy.Layer{sig})
				return err
			})
			att, _ := legacy.AttestationLayer([]byte(`{}`), "https://slsa.dev/provenance/v1", legacy.Material{})
			step("legacy.Append attestation", tc.att, func() error {
				_, err := legacy.Append(ctx, c, s, legacy.Attestation, []legacy.Layer{att})
				return err
			})

			v, err := oci.New(oci.WithInsecureHosts(host), oci.WithTransport(ct))
			if err != nil {
				t.Fatal(err)
			}
			step("verifier Bundles", tc.verifyBundles, func() error { _, err := bundle.List(ctx, v, s, bundle.Filter{}); return err })
			step("verifier Bundles again", tc.verifyBundlesAgain, func() error { _, err := bundle.List(ctx, v, s, bundle.Filter{}); return err })
			step("verifier Legacy", tc.readSig, func() error { _, err := legacy.Read(ctx, v, s, legacy.Signature); return err })
			step("Settle", counts{"GET": 2 + map[bool]int{false: 1}[tc.rk.Subject]}, func() error {
				n, err := c.Settle(ctx)
				if n != 0 {
					t.Errorf("Settle() repaired %d tags", n)
				}
				return err
			})
		})
	}
}

// TestConnectionsReused: bursts of parallel uploads reuse the connections
// the first burst opened, instead of keeping net/http's default two idle
// connections per host and opening (on a real registry, TLS-handshaking)
// new ones for every burst.
func TestConnectionsReused(t *testing.T) {
	ctx := ocitest.Context(t)
	var opened atomic.Int64
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	host := srv.Listener.Addr().String()
	img := ocitest.PushImage(t, host, "app")
	c, err := oci.New(oci.WithInsecureHosts(host), oci.WithJobs(8))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Resolve(ctx, img.String())
	if err != nil {
		t.Fatal(err)
	}
	burst := func(round int) {
		t.Helper()
		bs := make([]bundle.Artifact, 8)
		for i := range bs {
			bs[i] = bundle.Artifact{Bundle: ocitest.Bundle(100*round + i), Content: bundle.ContentDSSE}
		}
		if _, err := bundle.PutAll(ctx, c, s, bs); err != nil {
			t.Fatal(err)
		}
	}
	burst(1)
	first := opened.Load()
	if first < 5 {
		t.Fatalf("the first burst opened %d connections; the test needs parallel requests", first)
	}
	for round := 2; round <= 4; round++ {
		burst(round)
	}
	// Keeping only two idle connections, each later burst opens all but two
	// of its own again: 3 or more each. A later burst may run a little more
	// in parallel than the first did (under -race, on a loaded machine), so
	// a few new ones in all are no sign of waste.
	if n := opened.Load() - first; n > 3 {
		t.Errorf("three more bursts opened %d new connections after the first opened %d; want them reused", n, first)
	}
}

// inflightTransport delays manifest PUTs and records how many were in
// flight at once.
type inflightTransport struct {
	now, max atomic.Int64
}

func (t *inflightTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/sha256:") {
		n := t.now.Add(1)
		defer t.now.Add(-1)
		for m := t.max.Load(); n > m && !t.max.CompareAndSwap(m, n); m = t.max.Load() {
		}
		time.Sleep(30 * time.Millisecond)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestReferrerManifestsAtOnce: once a read has found that the registry has
// no referrers API (so it does not process subjects), a run's referrer
// manifests go up all at once instead of the first alone to find out.
func TestReferrerManifestsAtOnce(t *testing.T) {
	ctx := ocitest.Context(t)
	host := ocitest.StartGGCR(t, false)
	img := ocitest.PushImage(t, host, "app")
	tr := &inflightTransport{}
	c, err := oci.New(oci.WithInsecureHosts(host), oci.WithTransport(tr))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Resolve(ctx, img.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.List(ctx, c, s, bundle.Filter{}); err != nil {
		t.Fatal(err)
	}
	bs := []bundle.Artifact{{Bundle: ocitest.Bundle(1), Content: bundle.ContentDSSE}, {Bundle: ocitest.Bundle(2), Content: bundle.ContentDSSE}, {Bundle: ocitest.Bundle(3), Content: bundle.ContentDSSE}}
	if _, err := bundle.PutAll(ctx, c, s, bs); err != nil {
		t.Fatal(err)
	}
	if got := tr.max.Load(); got != 3 {
		t.Errorf("at most %d referrer manifests were in flight at once, want all 3", got)
	}
}
