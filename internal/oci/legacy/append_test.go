package legacy

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/ocitest"
)

func TestAppend(t *testing.T) {
	for _, rk := range ocitest.RegistryKinds {
		t.Run(rk.Name, func(t *testing.T) {
			t.Parallel()
			ctx, host, c, s := ocitest.ResolvedImage(t, rk.Start)
			payload := []byte(`{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"` + s.Descriptor.Digest.String() + `"},"type":"cosign container image signature"},"optional":null}`)
			sig1, err := SignatureLayer(payload, []byte("sig-one"), Material{Certificate: []byte("-----BEGIN CERTIFICATE-----\n"), RFC3161Timestamp: []byte{1, 2, 3}})
			if err != nil {
				t.Fatal(err)
			}
			sig2, err := SignatureLayer(payload, []byte("sig-two"), Material{RekorBundle: []byte(`{"SignedEntryTimestamp":"AA=="}`)})
			if err != nil {
				t.Fatal(err)
			}
			r, err := Append(ctx, c, s, Signature, []Layer{sig1})
			if err != nil {
				t.Fatalf("Append(sig1) = %v", err)
			}
			if r.Existed || r.Ref != s.Ref.Context().Tag(oci.DigestTag(s.Descriptor.Digest)+".sig").String() {
				t.Errorf("Append(sig1) = %+v", r)
			}
			if r, err := Append(ctx, c, s, Signature, []Layer{sig1}); err != nil || !r.Existed {
				t.Errorf("Append(sig1 again) = %+v, %v; want Existed", r, err)
			}
			if _, err := Append(ctx, c, s, Signature, []Layer{sig2, sig1}); err != nil {
				t.Fatalf("Append(sig2) = %v", err)
			}
			env := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}`)
			att, err := AttestationLayer(env, "https://slsa.dev/provenance/v1", Material{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Append(ctx, c, s, Attestation, []Layer{att}); err != nil {
				t.Fatalf("Append(att) = %v", err)
			}

			v := ocitest.Client(t, host)
			sigs, err := Read(ctx, v, s, Signature)
			if err != nil {
				t.Fatalf("Read(sig) = %v", err)
			}
			if len(sigs) != 2 {
				t.Fatalf("Read(sig) = %d layers, want 2", len(sigs))
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
			atts, err := Read(ctx, v, s, Attestation)
			if err != nil || len(atts) != 1 {
				t.Fatalf("Read(att) = %v, %v", atts, err)
			}
			if diff := cmp.Diff(att.Annotations, atts[0].Annotations); diff != "" {
				t.Errorf("attestation annotations (-want +got):\n%s", diff)
			}
			if none, err := Read(ctx, v, oci.Subject{Ref: s.Ref.Context().Digest(oci.EmptyConfig().Digest.String()), Descriptor: v1.Descriptor{Digest: oci.EmptyConfig().Digest}}, Signature); err != nil || none != nil {
				t.Errorf("Read(unsigned) = %v, %v; want nil, nil", none, err)
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

func TestParseManifestErrors(t *testing.T) {
	for _, in := range []string{
		`{`,
		`{"schemaVersion":1}`,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}`,
		`{"schemaVersion":2,"layers":[{"mediaType":"x"}]}`,
	} {
		if _, err := parseManifest([]byte(in)); err == nil {
			t.Errorf("parseManifest(%s) succeeded", in)
		}
	}
}
