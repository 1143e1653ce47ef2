package bundle

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/ocitest"
	"github.com/sealsign/seal/internal/predicate"
)

// TestPutAll publishes many bundles at once: every one becomes a
// referrer (registries that keep the referrers list themselves must not lose
// one to concurrent PUTs), and publishing them again, or with one new, reports
// per bundle what was already there.
func TestPutAll(t *testing.T) {
	for _, rk := range ocitest.RegistryKinds {
		t.Run(rk.Name, func(t *testing.T) {
			t.Parallel()
			ctx, host, c, s := ocitest.ResolvedImage(t, rk.Start)
			var bs []Artifact
			for i := range 6 {
				bs = append(bs, Artifact{Bundle: ocitest.Bundle(100 + i), Content: ContentDSSE})
			}
			first, err := PutAll(ctx, c, s, bs[:5])
			if err != nil {
				t.Fatalf("PutAll() = %v", err)
			}
			for i, r := range first {
				if r.Ref == "" || r.Existed || r.Fallback == rk.Subject {
					t.Errorf("PutAll()[%d] = %+v, want a new referrer, Fallback %v", i, r, !rk.Subject)
				}
			}
			// Bundles 1..4 again, and 5 new.
			again, err := PutAll(ctx, c, s, bs[1:])
			if err != nil {
				t.Fatalf("PutAll(again) = %v", err)
			}
			for i, r := range again {
				if i < 4 && r.Descriptor.Digest != first[i+1].Descriptor.Digest {
					t.Errorf("PutAll(again)[%d] digest %s, want %s", i, r.Descriptor.Digest, first[i+1].Descriptor.Digest)
				}
				if wantExisted := r.Fallback && i < 4; r.Existed != wantExisted {
					t.Errorf("PutAll(again)[%d].Existed = %v, want %v", i, r.Existed, wantExisted)
				}
			}
			all, err := List(ctx, ocitest.Client(t, host), s, Filter{})
			if err != nil {
				t.Fatalf("List() = %v", err)
			}
			if len(all) != 6 {
				t.Errorf("List() found %d bundles, want 6", len(all))
			}
			if rs, err := PutAll(ctx, c, s, nil); err != nil || len(rs) != 0 {
				t.Errorf("PutAll(nil) = %v, %v", rs, err)
			}
		})
	}
}

func TestPut(t *testing.T) {
	for _, rk := range ocitest.RegistryKinds {
		t.Run(rk.Name, func(t *testing.T) {
			t.Parallel()
			ctx, host, c, s := ocitest.ResolvedImage(t, rk.Start)

			att := Artifact{Bundle: ocitest.Bundle(1), Content: ContentDSSE, PredicateType: "https://slsa.dev/provenance/v1"}
			sig := Artifact{Bundle: ocitest.Bundle(2), Content: ContentDSSE, PredicateType: predicate.CosignSign, Created: time.Unix(1800000000, 0)}
			r1, err := Put(ctx, c, s, att)
			if err != nil {
				t.Fatalf("Put(att) = %v", err)
			}
			if r1.Fallback == rk.Subject {
				t.Errorf("Put().Fallback = %v on a registry that processes subject: %v", r1.Fallback, rk.Subject)
			}
			if _, err := Put(ctx, c, s, sig); err != nil {
				t.Fatalf("Put(sig) = %v", err)
			}
			// Publishing the same bundle again adds nothing.
			again, err := Put(ctx, c, s, att)
			if err != nil {
				t.Fatalf("Put(again) = %v", err)
			}
			if again.Descriptor.Digest != r1.Descriptor.Digest || (again.Fallback && !again.Existed) {
				t.Errorf("Put(again) = %+v, want the same referrer %s, nothing written", again, r1.Descriptor.Digest)
			}

			// A fresh client (a verifier) sees both, with their annotations.
			v := ocitest.Client(t, host)
			all, err := List(ctx, v, s, Filter{})
			if err != nil {
				t.Fatalf("List() = %v", err)
			}
			if len(all) != 2 {
				t.Fatalf("List() returned %d bundles, want 2: %+v", len(all), all)
			}
			prov, err := List(ctx, v, s, Filter{PredicateType: "https://slsa.dev/provenance/v1"})
			if err != nil {
				t.Fatalf("List(provenance) = %v", err)
			}
			if len(prov) != 1 {
				t.Fatalf("List(provenance) returned %d, want 1", len(prov))
			}
			want := Found{
				Descriptor: r1.Descriptor, Bundle: att.Bundle, MediaType: MediaType, Content: ContentDSSE,
				PredicateType: att.PredicateType, Created: "2023-11-14T22:13:21Z",
			}
			if diff := cmp.Diff(want, prov[0]); diff != "" {
				t.Errorf("List(provenance) (-want +got):\n%s", diff)
			}

			// What gh and cosign see: go-containerregistry's remote.Referrers,
			// which falls back to the tag, must label both as bundles with
			// their annotations.
			idx, err := remote.Referrers(s.Ref)
			if err != nil {
				t.Fatalf("remote.Referrers() = %v", err)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			bundles := 0
			for _, d := range im.Manifests {
				if d.ArtifactType == MediaType && d.Annotations[AnnotationContent] == ContentDSSE {
					bundles++
				}
			}
			// ggcr's own referrers API labels entries with the config media type.
			if rk.Name != "ggcr-referrers" && bundles != 2 {
				t.Errorf("remote.Referrers() found %d labelled bundles, want 2: %+v", bundles, im.Manifests)
			}
			if rk.Name == "ggcr-referrers" && len(im.Manifests) != 2 {
				t.Errorf("remote.Referrers() found %d referrers, want 2", len(im.Manifests))
			}
		})
	}
}

func TestBundleManifest(t *testing.T) {
	s := oci.Subject{Descriptor: v1.Descriptor{
		MediaType: types.OCIManifestSchema1, Size: 123,
		Digest:   v1.Hash{Algorithm: "sha256", Hex: "0000000000000000000000000000000000000000000000000000000000000001"},
		Platform: &v1.Platform{OS: "linux"},
	}}
	raw, desc, err := manifest(s, Artifact{Bundle: []byte(`{}`), Content: ContentMessageSignature,
		PredicateType: predicate.CosignSign, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json",` +
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},` +
		`"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}],` +
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":123,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000001"},` +
		`"annotations":{"dev.sigstore.bundle.content":"message-signature","dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1","org.opencontainers.image.created":"2026-01-02T02:04:05Z"}}`
	if diff := cmp.Diff(want, string(raw)); diff != "" {
		t.Errorf("bundleManifest() (-want +got):\n%s", diff)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	if desc.Digest != h || desc.ArtifactType != MediaType || desc.Annotations[AnnotationContent] != ContentMessageSignature {
		t.Errorf("bundleManifest() descriptor = %+v", desc)
	}

	for _, bad := range []Artifact{{Bundle: []byte(`{}`), Content: "other"}, {Content: ContentDSSE}} {
		if _, _, err := manifest(s, bad); err == nil {
			t.Errorf("bundleManifest(%+v) succeeded, want an error", bad)
		}
	}
}

func TestIntegratedTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{`{"verificationMaterial":{"tlogEntries":[{"integratedTime":"1700000000"}]}}`, time.Unix(1700000000, 0)},
		{`{"verificationMaterial":{"tlogEntries":[{"integratedTime":1700000001}]}}`, time.Unix(1700000001, 0)},
		{`{"verificationMaterial":{"tlogEntries":[]}}`, time.Time{}},
		{`{"verificationMaterial":{"tlogEntries":[{"integratedTime":"x"}]}}`, time.Time{}},
		{`not json`, time.Time{}},
	} {
		if got := integratedTime([]byte(tc.in)); !got.Equal(tc.want) {
			t.Errorf("integratedTime(%s) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
