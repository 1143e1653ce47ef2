package legacy

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealsign/seal/internal/oci"
)

// cosignSignatures builds a .sig image exactly as cosign v2 does
// (pkg/oci/empty.Signatures, then mutate.AppendSignatures).
func cosignSignatures(t *testing.T, layers []Layer) v1.Image {
	t.Helper()
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: static.NewLayer(l.Payload, l.MediaType), Annotations: l.Annotations})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestLegacyManifestMatchesCosign(t *testing.T) {
	a, _ := SignatureLayer([]byte(`{"critical":{}}`), []byte("a"), Material{Certificate: []byte("CERT"), Chain: []byte("CHAIN")})
	b, _ := SignatureLayer([]byte(`{"critical":{}}`), []byte("b"), Material{})
	c, _ := AttestationLayer([]byte(`{"payload":""}`), "https://slsa.dev/provenance/v1", Material{RFC3161Timestamp: []byte("ts")})
	layers := []Layer{a, b, c}
	var descs []v1.Descriptor
	for _, l := range layers {
		d, err := l.descriptor()
		if err != nil {
			t.Fatal(err)
		}
		descs = append(descs, d)
	}

	// Written in one go, and in two steps like two signing runs: both equal cosign's.
	one, err := oci.MergeTag(format{}, nil, descs)
	if err != nil {
		t.Fatal(err)
	}
	first, err := oci.MergeTag(format{}, nil, descs[:1])
	if err != nil {
		t.Fatal(err)
	}
	two, err := oci.MergeTag(format{}, &oci.Manifest{Body: first.Body}, descs[1:])
	if err != nil {
		t.Fatal(err)
	}
	img := cosignSignatures(t, layers)
	wantManifest, _ := img.RawManifest()
	wantConfig, _ := img.RawConfigFile()
	for name, plan := range map[string]*oci.TagDocument{"one": one, "two": two} {
		if diff := cmp.Diff(string(wantManifest), string(plan.Body)); diff != "" {
			t.Errorf("%s: manifest differs from cosign's (-cosign +seal):\n%s", name, diff)
		}
		if len(plan.Blobs) != 1 || !bytes.Equal(plan.Blobs[0], wantConfig) {
			t.Errorf("%s: config = %s, cosign's = %s", name, plan.Blobs, wantConfig)
		}
		if plan.MediaType != types.OCIManifestSchema1 {
			t.Errorf("%s: media type = %s", name, plan.MediaType)
		}
	}

	// A layer with the same blob and annotations is not added twice; one with
	// the same blob but another signature is.
	if plan, err := oci.MergeTag(format{}, &oci.Manifest{Body: one.Body}, descs[:1]); err != nil || plan != nil {
		t.Errorf("merge(present) = %v, %v; want nothing to do", plan, err)
	}
}

func TestLayerValidation(t *testing.T) {
	if _, err := SignatureLayer(nil, []byte("s"), Material{}); err == nil {
		t.Error("SignatureLayer(no payload) succeeded")
	}
	if _, err := SignatureLayer([]byte("p"), []byte("s"), Material{RekorBundle: []byte("{")}); err == nil {
		t.Error("SignatureLayer(bad rekor bundle) succeeded")
	}
	if _, err := AttestationLayer([]byte("{"), "p", Material{}); err == nil {
		t.Error("AttestationLayer(bad envelope) succeeded")
	}
	if _, err := AttestationLayer([]byte("{}"), "", Material{}); err == nil {
		t.Error("AttestationLayer(no predicate type) succeeded")
	}
	if _, err := Tag(oci.Subject{}, Kind(9)); err == nil {
		t.Error("Tag(Kind(9)) succeeded")
	}
}
