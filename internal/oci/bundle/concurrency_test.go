package bundle

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/ocitest"
)

const writers = 16

// TestConcurrentFallbackIndex: 16 jobs attach distinct bundles to one digest on
// a registry without the referrers API; the fallback index must list all 16.
func TestConcurrentFallbackIndex(t *testing.T) {
	ctx, host, _, s := ocitest.ResolvedImage(t, ocitest.StartDistribution)
	errs := make([]error, writers)
	ocitest.RunTogether(writers, func(i int) {
		c := ocitest.Client(t, host)
		var r oci.Result
		r, errs[i] = Put(ctx, c, s, Artifact{Bundle: ocitest.Bundle(i), Content: ContentDSSE, PredicateType: "https://example.com/p"})
		if errs[i] == nil && !r.Fallback {
			errs[i] = fmt.Errorf("writer %d: no fallback on distribution", i)
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	bs, err := List(ctx, ocitest.Client(t, host), s, Filter{})
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
	ctx, _, c, s := ocitest.ResolvedImage(t, ocitest.StartDistribution)
	if err := c.PutBlobs(ctx, s.Ref.Context(), [][]byte{[]byte("{}")}); err != nil {
		t.Fatal(err)
	}
	ocitest.RunTogether(writers, func(i int) {
		b := Artifact{Bundle: ocitest.Bundle(i), Content: ContentDSSE}
		if err := c.PutBlobs(ctx, s.Ref.Context(), [][]byte{b.Bundle}); err != nil {
			t.Error(err)
			return
		}
		raw, desc, err := manifest(s, b)
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

func (r rawManifest) RawManifest() ([]byte, error) { return r.b, nil }

func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
