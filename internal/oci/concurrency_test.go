package oci

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const writers = 16

// sigSubject starts the real distribution registry with one image for the
// writers of a concurrency test to sign.
func sigSubject(t *testing.T) (context.Context, string, Subject) {
	t.Helper()
	ctx, host, _, s := resolvedImage(t, startDistribution)
	return ctx, host, s
}

// resolvedImage starts a registry with start, pushes an image to host/app and
// resolves it with a test client, which it returns too.
func resolvedImage(t *testing.T, start func(testing.TB) string) (context.Context, string, *Client, Subject) {
	t.Helper()
	ctx := testContext(t)
	host := start(t)
	img := pushImage(t, host, "app")
	c := testClient(t, host)
	s, err := c.Resolve(ctx, img.String())
	if err != nil {
		t.Fatal(err)
	}
	return ctx, host, c, s
}

// signatureN is writer i's distinct .sig layer for s.
func signatureN(t *testing.T, s Subject, i int) LegacyLayer {
	t.Helper()
	payload := []byte(`{"critical":{"image":{"docker-manifest-digest":"` + s.Descriptor.Digest.String() + `"}}}`)
	l, err := SignatureLayer(payload, fmt.Appendf(nil, "signature-%02d", i), LegacyMaterial{})
	if err != nil {
		t.Error(err)
	}
	return l
}

// runTogether starts n functions at the same moment and waits for them.
func runTogether(n int, f func(i int)) {
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

// TestConcurrentAppendLegacy: 16 jobs, each its own client as if in its own
// process, append distinct signatures to one digest's .sig tag on the real
// distribution registry. All 16 must survive, without Settle.
func TestConcurrentAppendLegacy(t *testing.T) {
	ctx, host, s := sigSubject(t)
	clients := make([]*Client, writers)
	errs := make([]error, writers)
	runTogether(writers, func(i int) {
		clients[i] = testClient(t, host)
		l := signatureN(t, s, i)
		_, errs[i] = clients[i].AppendLegacy(ctx, s, Signature, []LegacyLayer{l})
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("AppendLegacy() = %v", err)
	}
	got := survivors(t, testClient(t, host), s)
	t.Logf("merge-write-check: %d of %d signatures survived", got, writers)
	if got != writers {
		t.Errorf("%d of %d signatures survived", got, writers)
	}
	repaired := 0
	for _, c := range clients {
		n, err := c.Settle(ctx)
		if err != nil {
			t.Errorf("Settle() = %v", err)
		}
		repaired += n
	}
	if repaired != 0 {
		t.Errorf("Settle() repaired %d tags after every writer had checked its own", repaired)
	}
}

func survivors(t *testing.T, c *Client, s Subject) int {
	t.Helper()
	ls, err := c.Legacy(testContext(t), s, Signature)
	if err != nil {
		t.Fatalf("Legacy() = %v", err)
	}
	seen := map[string]bool{}
	for _, l := range ls {
		sig, err := l.Signature()
		if err != nil {
			t.Fatal(err)
		}
		seen[string(sig)] = true
	}
	return len(seen)
}

// TestConcurrentNaiveAppendLosesSignatures shows the problem the merge loop
// solves: cosign's read-append-write (remote.Image, mutate.Append, remote.Write)
// by 16 parallel jobs loses signatures (cosign#2432). It only reports.
func TestConcurrentNaiveAppendLosesSignatures(t *testing.T) {
	_, host, s := sigSubject(t)
	tag, _ := LegacyTag(s, Signature)
	ref, err := name.ParseReference(host + "/app:" + tag)
	if err != nil {
		t.Fatal(err)
	}
	runTogether(writers, func(i int) {
		base, err := remote.Image(ref)
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == 404 {
			base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		} else if err != nil {
			t.Errorf("remote.Image() = %v", err)
			return
		}
		l := static.NewLayer([]byte(`{"critical":{}}`), SimpleSigningMediaType)
		next, err := mutate.Append(base, mutate.Addendum{Layer: l, Annotations: map[string]string{
			AnnotationSignature: fmt.Sprintf("c2lnbmF0dXJlLSUwMmQ=%02d", i)}})
		if err != nil {
			t.Error(err)
			return
		}
		if err := remote.Write(ref, next); err != nil {
			t.Errorf("remote.Write() = %v", err)
		}
	})
	ri, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ri.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("naive read-append-write: %d of %d signatures survived", len(m.Layers), writers)
}

// TestConcurrentFallbackIndex: 16 jobs attach distinct bundles to one digest on
// a registry without the referrers API; the fallback index must list all 16.
func TestConcurrentFallbackIndex(t *testing.T) {
	ctx, host, s := sigSubject(t)
	errs := make([]error, writers)
	runTogether(writers, func(i int) {
		c := testClient(t, host)
		var r Result
		r, errs[i] = c.PutBundle(ctx, s, BundleArtifact{Bundle: testBundle(i), Content: ContentDSSE, PredicateType: "https://example.com/p"})
		if errs[i] == nil && !r.Fallback {
			errs[i] = fmt.Errorf("writer %d: no fallback on distribution", i)
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("PutBundle() = %v", err)
	}
	bs, err := testClient(t, host).Bundles(ctx, s, BundleFilter{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("merge-write-check: %d of %d referrers survived in the fallback index", len(bs), writers)
	if len(bs) != writers {
		t.Errorf("%d of %d referrers survived", len(bs), writers)
	}
}

// TestConcurrentGGCRFallbackLosesReferrers shows that go-containerregistry's
// own fallback maintenance (remote.Put of a manifest with a subject) is a plain
// read-modify-write too: parallel writers lose index entries. It only reports.
func TestConcurrentGGCRFallbackLosesReferrers(t *testing.T) {
	ctx, _, c, s := resolvedImage(t, startDistribution)
	rc, err := c.repo(ctx, s.Ref.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ensureEmptyConfig(ctx, rc); err != nil {
		t.Fatal(err)
	}
	runTogether(writers, func(i int) {
		b := BundleArtifact{Bundle: testBundle(i), Content: ContentDSSE}
		if _, err := c.putBlob(ctx, rc, b.Bundle); err != nil {
			t.Error(err)
			return
		}
		raw, desc, err := bundleManifest(s, b)
		if err != nil {
			t.Error(err)
			return
		}
		ref := s.Ref.Context().Digest(desc.Digest.String())
		if err := remote.Put(ref, rawManifest{raw}); err != nil {
			t.Errorf("remote.Put() = %v", err)
		}
	})
	idx, err := remote.Referrers(s.Ref)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("go-containerregistry's fallback update: %d of %d referrers survived", len(im.Manifests), writers)
}

type rawManifest struct{ b []byte }

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// TestConcurrentAppendLegacyDeferred: the same 16 writers with
// WithDeferredCheck, each writing and returning at once, then settling once
// at the end of its run as Seal's CLI does, with the CLI's settle delay: all
// 16 survive. (Before updates checked the tag with a HEAD right before
// writing, a 20 ms delay lost one in a run where two compilers loaded the
// machine's two cores: the wait must outlast a stale writer's window, which
// load stretches; the check shrinks that window to the HEAD and the PUT.)
func TestConcurrentAppendLegacyDeferred(t *testing.T) {
	ctx, host, s := sigSubject(t)
	errs := make([]error, writers)
	runTogether(writers, func(i int) {
		c, err := New(WithInsecureHosts(host), WithWriteAccess(), WithDeferredCheck())
		if err != nil {
			errs[i] = err
			return
		}
		l := signatureN(t, s, i)
		if _, err := c.AppendLegacy(ctx, s, Signature, []LegacyLayer{l}); err != nil {
			errs[i] = err
			return
		}
		_, errs[i] = c.Settle(ctx)
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("AppendLegacy() + Settle() = %v", err)
	}
	got := survivors(t, testClient(t, host), s)
	t.Logf("write, then settle once: %d of %d signatures survived", got, writers)
	if got != writers {
		t.Errorf("%d of %d signatures survived", got, writers)
	}
}
