package legacy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/ocitest"
)

const writers = 16

// sigSubject starts the real distribution registry with one image for the
// writers of a concurrency test to sign.
func sigSubject(t *testing.T) (context.Context, string, oci.Subject) {
	t.Helper()
	ctx, host, _, s := ocitest.ResolvedImage(t, ocitest.StartDistribution)
	return ctx, host, s
}

// signatureN is writer i's distinct .sig layer for s.
func signatureN(t *testing.T, s oci.Subject, i int) Layer {
	t.Helper()
	payload := []byte(`{"critical":{"image":{"docker-manifest-digest":"` + s.Descriptor.Digest.String() + `"}}}`)
	l, err := SignatureLayer(payload, fmt.Appendf(nil, "signature-%02d", i), Material{})
	if err != nil {
		t.Error(err)
	}
	return l
}

// TestConcurrentAppend: 16 jobs, each its own client as if in its own
// process, append distinct signatures to one digest's .sig tag on the real
// distribution registry. All 16 must survive, without Settle.
func TestConcurrentAppend(t *testing.T) {
	ctx, host, s := sigSubject(t)
	clients := make([]*oci.Client, writers)
	errs := make([]error, writers)
	ocitest.RunTogether(writers, func(i int) {
		clients[i] = ocitest.Client(t, host)
		l := signatureN(t, s, i)
		_, errs[i] = Append(ctx, clients[i], s, Signature, []Layer{l})
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Append() = %v", err)
	}
	got := survivors(t, ocitest.Client(t, host), s)
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

func survivors(t *testing.T, c *oci.Client, s oci.Subject) int {
	t.Helper()
	ls, err := Read(ocitest.Context(t), c, s, Signature)
	if err != nil {
		t.Fatalf("Read() = %v", err)
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

// oneRead makes writers of a tag write over the same read of it: each
// writer's first manifest PUT is held until every writer has reached its
// own. Nothing a writer checks before writing can then see the others, so
// only what it checks after writing keeps their signatures.
type oneRead struct {
	writers int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func newOneRead(writers int) *oneRead { return &oneRead{writers: writers, all: make(chan struct{})} }

// hold blocks until every writer has called it, or a minute has passed.
func (o *oneRead) hold() {
	o.mu.Lock()
	o.arrived++
	if o.arrived == o.writers {
		close(o.all)
	}
	o.mu.Unlock()
	select {
	case <-o.all:
	case <-time.After(time.Minute):
	}
}

// transport is one writer's: it holds that writer's first manifest PUT.
func (o *oneRead) transport() http.RoundTripper {
	var first sync.Once
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			first.Do(o.hold)
		}
		return http.DefaultTransport.RoundTrip(r)
	})
}

// released reports whether every writer reached the barrier.
func (o *oneRead) released() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.arrived >= o.writers
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestConcurrentNaiveAppendLosesSignatures shows the problem the merge loop
// solves: with cosign's read-append-write (remote.Image, mutate.Append,
// remote.Write), 16 jobs that all read the .sig tag before any of them
// writes it leave one signature of 16 (cosign#2432).
func TestConcurrentNaiveAppendLosesSignatures(t *testing.T) {
	_, host, s := sigSubject(t)
	tag, _ := Tag(s, Signature)
	ref, err := name.ParseReference(host + "/app:" + tag)
	if err != nil {
		t.Fatal(err)
	}
	barrier := newOneRead(writers)
	ocitest.RunTogether(writers, func(i int) {
		rt := remote.WithTransport(barrier.transport())
		base, err := remote.Image(ref, rt)
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == 404 {
			base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		} else if err != nil {
			t.Errorf("remote.Image() = %v", err)
			barrier.hold() // in place of this writer's PUT
			return
		}
		l := static.NewLayer([]byte(`{"critical":{}}`), SimpleSigningMediaType)
		next, err := mutate.Append(base, mutate.Addendum{Layer: l, Annotations: map[string]string{
			AnnotationSignature: fmt.Sprintf("c2lnbmF0dXJlLSUwMmQ=%02d", i)}})
		if err != nil {
			t.Error(err)
			barrier.hold()
			return
		}
		if err := remote.Write(ref, next, rt); err != nil {
			t.Errorf("remote.Write() = %v", err)
		}
	})
	if !barrier.released() {
		t.Fatal("the writers never all reached their writes")
	}
	ri, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ri.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("naive read-append-write over one read: %d of %d signatures survived", len(m.Layers), writers)
	if len(m.Layers) != 1 {
		t.Errorf("%d of %d signatures survived, want only the last writer's", len(m.Layers), writers)
	}
}

// TestConcurrentAppendOverOneRead: the interleaving that leaves the naive
// writers one signature, through Append: every writer reads the tag and
// checks it before writing, and all of them write at once. The check after
// writing finds the others' signatures gone and merges them back: all 16
// survive.
func TestConcurrentAppendOverOneRead(t *testing.T) {
	ctx, host, s := sigSubject(t)
	barrier := newOneRead(writers)
	errs := make([]error, writers)
	ocitest.RunTogether(writers, func(i int) {
		c := ocitest.Client(t, host, oci.WithTransport(barrier.transport()))
		_, errs[i] = Append(ctx, c, s, Signature, []Layer{signatureN(t, s, i)})
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Append() = %v", err)
	}
	if !barrier.released() {
		t.Fatal("the writers never all reached their writes")
	}
	got := survivors(t, ocitest.Client(t, host), s)
	t.Logf("merge-write-check over one read: %d of %d signatures survived", got, writers)
	if got != writers {
		t.Errorf("%d of %d signatures survived", got, writers)
	}
}

// TestConcurrentAppendDeferred: the same 16 writers with
// WithDeferredCheck, each writing and returning at once, then settling once
// at the end of its run as Seal's CLI does, with the CLI's settle delay: all
// 16 survive. (Before updates checked the tag with a HEAD right before
// writing, a 20 ms delay lost one in a run where two compilers loaded the
// machine's two cores: the wait must outlast a stale writer's window, which
// load stretches; the check shrinks that window to the HEAD and the PUT.)
func TestConcurrentAppendDeferred(t *testing.T) {
	ctx, host, s := sigSubject(t)
	errs := make([]error, writers)
	ocitest.RunTogether(writers, func(i int) {
		c, err := oci.New(oci.WithInsecureHosts(host), oci.WithWriteAccess(), oci.WithDeferredCheck())
		if err != nil {
			errs[i] = err
			return
		}
		l := signatureN(t, s, i)
		if _, err := Append(ctx, c, s, Signature, []Layer{l}); err != nil {
			errs[i] = err
			return
		}
		_, errs[i] = c.Settle(ctx)
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Append() + Settle() = %v", err)
	}
	got := survivors(t, ocitest.Client(t, host), s)
	t.Logf("write, then settle once: %d of %d signatures survived", got, writers)
	if got != writers {
		t.Errorf("%d of %d signatures survived", got, writers)
	}
}
