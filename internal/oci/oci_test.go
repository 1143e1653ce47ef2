package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealsign/seal/internal/predicate"
)

func TestResolveAndPlatforms(t *testing.T) {
	for _, rk := range registryKinds {
		t.Run(rk.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			host := rk.start(t)
			img := pushImage(t, host, "app")
			idx, platforms := pushIndex(t, host, "app")
			c := testClient(t, host)

			s, err := c.Resolve(ctx, host+"/app:latest")
			if err != nil {
				t.Fatalf("Resolve(tag) = %v", err)
			}
			if s.Ref != img || s.Tag != "latest" || s.Descriptor.MediaType != types.OCIManifestSchema1 || s.Descriptor.Size == 0 {
				t.Errorf("Resolve(tag) = %+v, want %s from tag latest", s, img)
			}
			byDigest, err := c.Resolve(ctx, img.String())
			if err != nil {
				t.Fatalf("Resolve(digest) = %v", err)
			}
			if byDigest.Tag != "" || !cmp.Equal(byDigest.Descriptor, s.Descriptor) {
				t.Errorf("Resolve(digest) = %+v, want %+v without tag", byDigest, s.Descriptor)
			}
			if _, err := c.Resolve(ctx, host+"/app:missing"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Resolve(missing) = %v, want ErrNotFound", err)
			}

			is, err := c.Resolve(ctx, host+"/app:multi")
			if err != nil {
				t.Fatalf("Resolve(index) = %v", err)
			}
			if is.Ref != idx || !is.IsIndex() {
				t.Fatalf("Resolve(index) = %+v, want index %s", is, idx)
			}
			ps, err := c.Platforms(ctx, is)
			if err != nil {
				t.Fatalf("Platforms() = %v", err)
			}
			var got []v1.Hash
			for _, p := range ps {
				got = append(got, p.Descriptor.Digest)
				if p.Descriptor.Platform == nil || p.Descriptor.Platform.OS != "linux" {
					t.Errorf("platform child %s without linux platform", p)
				}
			}
			if diff := cmp.Diff(platforms, got); diff != "" {
				t.Errorf("Platforms() digests (-want +got):\n%s", diff)
			}
			if ps, err := c.Platforms(ctx, s); err != nil || ps != nil {
				t.Errorf("Platforms(image) = %v, %v; want nil, nil", ps, err)
			}
		})
	}
}

// testBundle returns bundle-shaped JSON that differs by n.
func testBundle(n int) []byte {
	return fmt.Appendf(nil, `{"mediaType":%q,"verificationMaterial":{"tlogEntries":[{"integratedTime":"%d"}]},"dsseEnvelope":{"payload":"%d"}}`,
		BundleMediaType, 1700000000+n, n)
}

// TestPutBundles publishes many bundles at once: every one becomes a
// referrer (registries that keep the referrers list themselves must not lose
// one to concurrent PUTs), and publishing them again, or with one new, reports
// per bundle what was already there.
func TestPutBundles(t *testing.T) {
	for _, rk := range registryKinds {
		t.Run(rk.name, func(t *testing.T) {
			t.Parallel()
			ctx, host, c, s := resolvedImage(t, rk.start)
			var bs []BundleArtifact
			for i := range 6 {
				bs = append(bs, BundleArtifact{Bundle: testBundle(100 + i), Content: ContentDSSE})
			}
			first, err := c.PutBundles(ctx, s, bs[:5])
			if err != nil {
				t.Fatalf("PutBundles() = %v", err)
			}
			for i, r := range first {
				if r.Ref == "" || r.Existed || r.Fallback == rk.subject {
					t.Errorf("PutBundles()[%d] = %+v, want a new referrer, Fallback %v", i, r, !rk.subject)
				}
			}
			// Bundles 1..4 again, and 5 new.
			again, err := c.PutBundles(ctx, s, bs[1:])
			if err != nil {
				t.Fatalf("PutBundles(again) = %v", err)
			}
			for i, r := range again {
				if i < 4 && r.Descriptor.Digest != first[i+1].Descriptor.Digest {
					t.Errorf("PutBundles(again)[%d] digest %s, want %s", i, r.Descriptor.Digest, first[i+1].Descriptor.Digest)
				}
				if wantExisted := r.Fallback && i < 4; r.Existed != wantExisted {
					t.Errorf("PutBundles(again)[%d].Existed = %v, want %v", i, r.Existed, wantExisted)
				}
			}
			all, err := testClient(t, host).Bundles(ctx, s, BundleFilter{})
			if err != nil {
				t.Fatalf("Bundles() = %v", err)
			}
			if len(all) != 6 {
				t.Errorf("Bundles() found %d bundles, want 6", len(all))
			}
			if rs, err := c.PutBundles(ctx, s, nil); err != nil || len(rs) != 0 {
				t.Errorf("PutBundles(nil) = %v, %v", rs, err)
			}
		})
	}
}

func TestPutBundle(t *testing.T) {
	for _, rk := range registryKinds {
		t.Run(rk.name, func(t *testing.T) {
			t.Parallel()
			ctx, host, c, s := resolvedImage(t, rk.start)

			att := BundleArtifact{Bundle: testBundle(1), Content: ContentDSSE, PredicateType: "https://slsa.dev/provenance/v1"}
			sig := BundleArtifact{Bundle: testBundle(2), Content: ContentDSSE, PredicateType: predicate.CosignSign, Created: time.Unix(1800000000, 0)}
			r1, err := c.PutBundle(ctx, s, att)
			if err != nil {
				t.Fatalf("PutBundle(att) = %v", err)
			}
			if r1.Fallback == rk.subject {
				t.Errorf("PutBundle().Fallback = %v on a registry that processes subject: %v", r1.Fallback, rk.subject)
			}
			if _, err := c.PutBundle(ctx, s, sig); err != nil {
				t.Fatalf("PutBundle(sig) = %v", err)
			}
			// Publishing the same bundle again adds nothing.
			again, err := c.PutBundle(ctx, s, att)
			if err != nil {
				t.Fatalf("PutBundle(again) = %v", err)
			}
			if again.Descriptor.Digest != r1.Descriptor.Digest || (again.Fallback && !again.Existed) {
				t.Errorf("PutBundle(again) = %+v, want the same referrer %s, nothing written", again, r1.Descriptor.Digest)
			}

			// A fresh client (a verifier) sees both, with their annotations.
			v := testClient(t, host)
			all, err := v.Bundles(ctx, s, BundleFilter{})
			if err != nil {
				t.Fatalf("Bundles() = %v", err)
			}
			if len(all) != 2 {
				t.Fatalf("Bundles() returned %d bundles, want 2: %+v", len(all), all)
			}
			prov, err := v.Bundles(ctx, s, BundleFilter{PredicateType: "https://slsa.dev/provenance/v1"})
			if err != nil {
				t.Fatalf("Bundles(provenance) = %v", err)
			}
			if len(prov) != 1 {
				t.Fatalf("Bundles(provenance) returned %d, want 1", len(prov))
			}
			want := FoundBundle{
				Descriptor: r1.Descriptor, Bundle: att.Bundle, MediaType: BundleMediaType, Content: ContentDSSE,
				PredicateType: att.PredicateType, Created: "2023-11-14T22:13:21Z",
			}
			if diff := cmp.Diff(want, prov[0]); diff != "" {
				t.Errorf("Bundles(provenance) (-want +got):\n%s", diff)
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
				if d.ArtifactType == BundleMediaType && d.Annotations[AnnotationBundleContent] == ContentDSSE {
					bundles++
				}
			}
			// ggcr's own referrers API labels entries with the config media type.
			if rk.name != "ggcr-referrers" && bundles != 2 {
				t.Errorf("remote.Referrers() found %d labelled bundles, want 2: %+v", bundles, im.Manifests)
			}
			if rk.name == "ggcr-referrers" && len(im.Manifests) != 2 {
				t.Errorf("remote.Referrers() found %d referrers, want 2", len(im.Manifests))
			}
		})
	}
}

func TestBundleManifest(t *testing.T) {
	s := Subject{Descriptor: v1.Descriptor{
		MediaType: types.OCIManifestSchema1, Size: 123,
		Digest:   v1.Hash{Algorithm: "sha256", Hex: "0000000000000000000000000000000000000000000000000000000000000001"},
		Platform: &v1.Platform{OS: "linux"},
	}}
	raw, desc, err := bundleManifest(s, BundleArtifact{Bundle: []byte(`{}`), Content: ContentMessageSignature,
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
	if desc.Digest != h || desc.ArtifactType != BundleMediaType || desc.Annotations[AnnotationBundleContent] != ContentMessageSignature {
		t.Errorf("bundleManifest() descriptor = %+v", desc)
	}

	for _, bad := range []BundleArtifact{{Bundle: []byte(`{}`), Content: "other"}, {Content: ContentDSSE}} {
		if _, _, err := bundleManifest(s, bad); err == nil {
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

func TestAppendLegacy(t *testing.T) {
	for _, rk := range registryKinds {
		t.Run(rk.name, func(t *testing.T) {
			t.Parallel()
			ctx, host, c, s := resolvedImage(t, rk.start)
			payload := []byte(`{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"` + s.Descriptor.Digest.String() + `"},"type":"cosign container image signature"},"optional":null}`)
			sig1, err := SignatureLayer(payload, []byte("sig-one"), LegacyMaterial{Certificate: []byte("-----BEGIN CERTIFICATE-----\n"), RFC3161Timestamp: []byte{1, 2, 3}})
			if err != nil {
				t.Fatal(err)
			}
			sig2, err := SignatureLayer(payload, []byte("sig-two"), LegacyMaterial{RekorBundle: []byte(`{"SignedEntryTimestamp":"AA=="}`)})
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.AppendLegacy(ctx, s, Signature, []LegacyLayer{sig1})
			if err != nil {
				t.Fatalf("AppendLegacy(sig1) = %v", err)
			}
			if r.Existed || r.Ref != s.Ref.Context().Tag(fallbackTag(s.Descriptor.Digest)+".sig").String() {
				t.Errorf("AppendLegacy(sig1) = %+v", r)
			}
			if r, err := c.AppendLegacy(ctx, s, Signature, []LegacyLayer{sig1}); err != nil || !r.Existed {
				t.Errorf("AppendLegacy(sig1 again) = %+v, %v; want Existed", r, err)
			}
			if _, err := c.AppendLegacy(ctx, s, Signature, []LegacyLayer{sig2, sig1}); err != nil {
				t.Fatalf("AppendLegacy(sig2) = %v", err)
			}
			env := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}`)
			att, err := AttestationLayer(env, "https://slsa.dev/provenance/v1", LegacyMaterial{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.AppendLegacy(ctx, s, Attestation, []LegacyLayer{att}); err != nil {
				t.Fatalf("AppendLegacy(att) = %v", err)
			}

			v := testClient(t, host)
			sigs, err := v.Legacy(ctx, s, Signature)
			if err != nil {
				t.Fatalf("Legacy(sig) = %v", err)
			}
			if len(sigs) != 2 {
				t.Fatalf("Legacy(sig) = %d layers, want 2", len(sigs))
			}
			for i, want := range []string{"sig-one", "sig-two"} {
				got, err := sigs[i].Signature()
				if err != nil || string(got) != want || !bytes.Equal(sigs[i].Payload, payload) || sigs[i].MediaType != SimpleSigningMediaType {
					t.Errorf("layer %d: Signature() = %q, %v; payload %q", i, got, err, sigs[i].Payload)
				}
			}
			if ts, err := sigs[0].RFC3161Timestamp(); err != nil || !bytes.Equal(ts, []byte{1, 2, 3}) {
				t.Errorf("RFC3161Timestamp() = %v, %v", ts, err)
			}
			if sigs[0].Annotations[AnnotationRFC3161Timestamp] != `{"SignedRFC3161Timestamp":"AQID"}` {
				t.Errorf("timestamp annotation = %q", sigs[0].Annotations[AnnotationRFC3161Timestamp])
			}
			if _, ok := sigs[0].Annotations[AnnotationChain]; !ok {
				t.Error("a certificate without chain lacks the (empty) chain annotation cosign writes")
			}
			atts, err := v.Legacy(ctx, s, Attestation)
			if err != nil || len(atts) != 1 {
				t.Fatalf("Legacy(att) = %v, %v", atts, err)
			}
			if diff := cmp.Diff(att.Annotations, atts[0].Annotations); diff != "" {
				t.Errorf("attestation annotations (-want +got):\n%s", diff)
			}
			if none, err := v.Legacy(ctx, Subject{Ref: s.Ref.Context().Digest(emptyDigest.String()), Descriptor: v1.Descriptor{Digest: emptyDigest}}, Signature); err != nil || none != nil {
				t.Errorf("Legacy(unsigned) = %v, %v; want nil, nil", none, err)
			}

			// The tag is a proper image: go-containerregistry (and so cosign) reads it.
			ref, _ := name.ParseReference(r.Ref)
			ri, err := remote.Image(ref)
			if err != nil {
				t.Fatal(err)
			}
			ls, err := ri.Layers()
			if err != nil || len(ls) != 2 {
				t.Fatalf("remote.Image().Layers() = %d, %v", len(ls), err)
			}
			cf, err := ri.ConfigFile()
			if err != nil || len(cf.RootFS.DiffIDs) != 2 {
				t.Errorf("config = %+v, %v", cf, err)
			}
		})
	}
}

func TestParseLegacyManifestErrors(t *testing.T) {
	for _, in := range []string{
		`{`,
		`{"schemaVersion":1}`,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}`,
		`{"schemaVersion":2,"layers":[{"mediaType":"x"}]}`,
	} {
		if _, err := parseLegacyManifest([]byte(in)); err == nil {
			t.Errorf("parseLegacyManifest(%s) succeeded", in)
		}
	}
	if _, err := parseFallbackIndex([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)); err == nil {
		t.Error("parseFallbackIndex(manifest) succeeded")
	}
}

func TestFallbackMergeReplacesMislabelledEntry(t *testing.T) {
	ours := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 10, Digest: emptyDigest, ArtifactType: BundleMediaType,
		Annotations: map[string]string{AnnotationBundleContent: ContentDSSE}}
	other := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 5,
		Digest: v1.Hash{Algorithm: "sha256", Hex: "0000000000000000000000000000000000000000000000000000000000000002"}, ArtifactType: "x"}
	// cosign v2 wrote our manifest's entry with the config type and no annotations.
	cosign := ours
	cosign.ArtifactType, cosign.Annotations = string(EmptyMediaType), nil
	cur, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{other, cosign}})
	plan, err := mergePlan(fallbackFormat{}, &fetched{body: cur}, []v1.Descriptor{ours})
	if err != nil || plan == nil {
		t.Fatalf("merge() = %v, %v", plan, err)
	}
	var got v1.IndexManifest
	if err := json.Unmarshal(plan.body, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]v1.Descriptor{other, ours}, got.Manifests); diff != "" {
		t.Errorf("merged index (-want +got):\n%s", diff)
	}
	if plan, err := mergePlan(fallbackFormat{}, &fetched{body: plan.body}, []v1.Descriptor{ours}); err != nil || plan != nil {
		t.Errorf("merge(merged) = %v, %v; want nothing to do", plan, err)
	}
}
