package oci_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/bundle"
	"github.com/sealsign/seal/internal/oci/ocitest"
)

func TestFallbackMergeReplacesMislabelledEntry(t *testing.T) {
	ours := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 10, Digest: oci.EmptyConfig().Digest, ArtifactType: bundle.MediaType,
		Annotations: map[string]string{bundle.AnnotationContent: bundle.ContentDSSE}}
	other := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 5,
		Digest: v1.Hash{Algorithm: "sha256", Hex: "0000000000000000000000000000000000000000000000000000000000000002"}, ArtifactType: "x"}
	// cosign v2 wrote our manifest's entry with the config type and no annotations.
	cosign := ours
	cosign.ArtifactType, cosign.Annotations = string(oci.EmptyMediaType), nil
	cur, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{other, cosign}})
	plan, err := oci.MergeTag(oci.FallbackFormat, &oci.Manifest{Body: cur}, []v1.Descriptor{ours})
	if err != nil || plan == nil {
		t.Fatalf("MergeTag() = %v, %v", plan, err)
	}
	var got v1.IndexManifest
	if err := json.Unmarshal(plan.Body, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]v1.Descriptor{other, ours}, got.Manifests); diff != "" {
		t.Errorf("merged index (-want +got):\n%s", diff)
	}
	if plan, err := oci.MergeTag(oci.FallbackFormat, &oci.Manifest{Body: plan.Body}, []v1.Descriptor{ours}); err != nil || plan != nil {
		t.Errorf("MergeTag(merged) = %v, %v; want nothing to do", plan, err)
	}
}

func TestParseFallbackIndexErrors(t *testing.T) {
	if _, _, err := oci.FallbackFormat.Parse(&oci.Manifest{Body: []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)}); err == nil {
		t.Error("Parse(manifest) succeeded")
	}
}

func FuzzFallbackMerge(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","artifactType":"application/vnd.oci.empty.v1+json"}]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[],"annotations":{"a":"b"}}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:zz"}]}`))
	ours := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 10, Digest: oci.EmptyConfig().Digest, ArtifactType: bundle.MediaType,
		Annotations: map[string]string{bundle.AnnotationContent: bundle.ContentDSSE}}
	f.Fuzz(func(t *testing.T, doc []byte) {
		ocitest.CheckMerge(t, oci.FallbackFormat, doc, []v1.Descriptor{ours})
	})
}
