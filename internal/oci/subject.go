package oci

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Subject is a manifest that signatures and attestations are about, pinned to
// its digest. Every operation on a Subject uses the digest, so a tag that moves
// during a run cannot make Seal sign one image and publish for another.
type Subject struct {
	// Ref is the repository and digest.
	Ref name.Digest
	// Descriptor is the manifest's media type, size and digest; Platform is set
	// for the children of an index.
	Descriptor v1.Descriptor
	// Tag is the tag the subject was resolved from, "" for a digest reference.
	Tag string
}

// String returns repository@digest.
func (s Subject) String() string { return s.Ref.String() }

// IsIndex reports whether the subject is a multi-platform index.
func (s Subject) IsIndex() bool { return s.Descriptor.MediaType.IsIndex() }

// Resolve pins an image reference to a digest and learns the manifest's media
// type and size: one HEAD (a GET on registries that leave out headers). A tag is
// resolved exactly once, here.
func (c *Client) Resolve(ctx context.Context, ref string) (Subject, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return Subject{}, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	rc, err := c.repo(ctx, r.Context(), false)
	if err != nil {
		return Subject{}, fmt.Errorf("resolving %s: %w", r, err)
	}
	desc, err := c.headManifest(ctx, rc, r.Identifier())
	if err != nil {
		return Subject{}, fmt.Errorf("resolving %s: %w", r, err)
	}
	s := Subject{Ref: r.Context().Digest(desc.Digest.String()), Descriptor: desc}
	if t, ok := r.(name.Tag); ok {
		s.Tag = t.TagStr()
	}
	return s, nil
}

// Platforms lists the images of an index (one GET), skipping the attestation
// manifests BuildKit adds (platform unknown/unknown). Nested indexes are
// returned as they are. For a subject that is not an index it returns nil.
func (c *Client) Platforms(ctx context.Context, s Subject) ([]Subject, error) {
	if !s.IsIndex() {
		return nil, nil
	}
	rc, err := c.repo(ctx, s.Ref.Context(), false)
	if err != nil {
		return nil, fmt.Errorf("listing platforms of %s: %w", s, err)
	}
	f, err := c.getManifest(ctx, rc, s.Ref.DigestStr())
	if err != nil {
		return nil, fmt.Errorf("listing platforms of %s: %w", s, err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(f.Body, &idx); err != nil {
		return nil, fmt.Errorf("listing platforms of %s: parsing index: %w", s, err)
	}
	var out []Subject
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
			continue
		}
		out = append(out, Subject{Ref: s.Ref.Context().Digest(d.Digest.String()), Descriptor: d})
	}
	return out, nil
}

// SubjectDescriptor is the descriptor a referrer points at: only the fields
// the spec asks for, so that the referrer is the same whatever else the index
// said.
func (s Subject) SubjectDescriptor() *v1.Descriptor {
	return &v1.Descriptor{MediaType: s.Descriptor.MediaType, Size: s.Descriptor.Size, Digest: s.Descriptor.Digest}
}
