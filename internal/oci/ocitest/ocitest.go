package ocitest

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"sync"
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

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/testbed"
)

// StartDistribution starts the CNCF distribution registry (no referrers API,
// no monolithic uploads) and returns its host:port.
func StartDistribution(t testing.TB) string {
	t.Helper()
	return testbed.StartRegistry(t, testbed.Distribution).Host
}

// StartOlareg starts olareg (with the referrers API) and returns its host:port.
func StartOlareg(t testing.TB) string {
	t.Helper()
	return testbed.StartRegistry(t, testbed.Olareg).Host
}

// StartGGCR runs go-containerregistry's in-process registry. With referrers
// it has the referrers API but, unlike the spec asks, answers no OCI-Subject.
func StartGGCR(t testing.TB, referrers bool) string {
	t.Helper()
	h := registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// RegistryKind describes a registry under test.
type RegistryKind struct {
	Name string
	// Start returns the host:port of a fresh registry.
	Start func(testing.TB) string
	// Subject is whether the registry processes subject (answers OCI-Subject).
	Subject bool
}

// RegistryKinds are the registries every format is tested on: ggcr's with and
// without the referrers API, distribution, and olareg.
var RegistryKinds = []RegistryKind{
	{Name: "ggcr-referrers", Start: func(t testing.TB) string { return StartGGCR(t, true) }},
	{Name: "ggcr-plain", Start: func(t testing.TB) string { return StartGGCR(t, false) }},
	{Name: "distribution", Start: StartDistribution},
	{Name: "olareg", Start: StartOlareg, Subject: true},
}

// Client returns a client for a loopback registry with fast retries.
func Client(t testing.TB, host string, opts ...oci.Option) *oci.Client {
	t.Helper()
	base := []oci.Option{oci.WithInsecureHosts(host), oci.WithRetry(4, 5*time.Millisecond), oci.WithSettleDelay(10 * time.Millisecond)}
	c, err := oci.New(append(base, opts...)...)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c
}

// PushImage pushes a small random image to host/repo:latest and returns
// repository@digest.
func PushImage(t testing.TB, host, repo string) name.Digest {
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

// PushIndex pushes an index of two platform images and a BuildKit attestation
// manifest, tagged "multi".
func PushIndex(t testing.TB, host, repo string) (name.Digest, []v1.Hash) {
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

// Context is a context that ends with the test, or after two minutes.
func Context(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// ResolvedImage starts a registry with start, pushes an image to host/app and
// resolves it with a test client, which it returns too.
func ResolvedImage(t *testing.T, start func(testing.TB) string) (context.Context, string, *oci.Client, oci.Subject) {
	t.Helper()
	ctx := Context(t)
	host := start(t)
	img := PushImage(t, host, "app")
	c := Client(t, host)
	s, err := c.Resolve(ctx, img.String())
	if err != nil {
		t.Fatal(err)
	}
	return ctx, host, c, s
}

// RunTogether starts n functions at the same moment and waits for them.
func RunTogether(n int, f func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			f(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// Bundle returns bundle-shaped JSON that differs by n, with n's integration
// time.
func Bundle(n int) []byte {
	return fmt.Appendf(nil, `{"mediaType":%q,"verificationMaterial":{"tlogEntries":[{"integratedTime":"%d"}]},"dsseEnvelope":{"payload":"%d"}}`,
		"application/vnd.dev.sigstore.bundle.v0.3+json", 1700000000+n, n)
}

// CheckMerge checks, for fuzz tests, what AppendTag makes of arbitrary
// registry content in format f: no panic, and whatever parses ends up
// holding ours, idempotently.
func CheckMerge(t *testing.T, f oci.TagFormat, doc []byte, ours []v1.Descriptor) {
	t.Helper()
	cur := &oci.Manifest{Body: doc}
	if _, _, err := f.Parse(cur); err != nil {
		return
	}
	plan, err := oci.MergeTag(f, cur, ours)
	if err != nil {
		t.Fatalf("MergeTag() = %v", err)
	}
	if plan == nil {
		return
	}
	again, rest, err := f.Parse(&oci.Manifest{Body: plan.Body})
	if err != nil {
		t.Fatalf("Parse(Render()) = %v\n%s", err, plan.Body)
	}
	if p, err := oci.MergeTag(f, &oci.Manifest{Body: plan.Body}, ours); err != nil || p != nil {
		t.Fatalf("merge is not idempotent (%v):\n%s", err, plan.Body)
	}
	if _, err := f.Render(again, rest); err != nil {
		t.Fatal(err)
	}
}
