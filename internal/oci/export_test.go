package oci

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
)

// What the external tests (package oci_test, which may import the storage
// formats) need of the package's insides.

// FallbackFormat is the Referrers Tag Schema index's TagFormat.
var FallbackFormat TagFormat = fallbackFormat{}

// PushEmptyArtifact stores an empty OCI artifact under repo:tag through c,
// authenticated as c is, and resolves it.
func PushEmptyArtifact(ctx context.Context, c *Client, repo name.Repository, tag string) (Subject, error) {
	rc, err := c.repo(ctx, repo, true)
	if err != nil {
		return Subject{}, err
	}
	if err := c.ensureEmptyConfig(ctx, rc); err != nil {
		return Subject{}, err
	}
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"` + emptyDigest.String() + `"},"layers":[]}`)
	if _, err := c.putManifest(ctx, rc, tag, "application/vnd.oci.image.manifest.v1+json", m, ""); err != nil {
		return Subject{}, err
	}
	return c.Resolve(ctx, repo.Tag(tag).String())
}
