package oci_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealsign/seal/internal/oci"
	"github.com/sealsign/seal/internal/oci/ocitest"
)

func TestResolveAndPlatforms(t *testing.T) {
	for _, rk := range ocitest.RegistryKinds {
		t.Run(rk.Name, func(t *testing.T) {
			t.Parallel()
			ctx := ocitest.Context(t)
			host := rk.Start(t)
			img := ocitest.PushImage(t, host, "app")
			idx, platforms := ocitest.PushIndex(t, host, "app")
			c := ocitest.Client(t, host)

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
			if _, err := c.Resolve(ctx, host+"/app:missing"); !errors.Is(err, oci.ErrNotFound) {
				t.Errorf("Resolve(missing) = %v, want oci.ErrNotFound", err)
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
