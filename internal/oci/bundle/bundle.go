package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sealsign/seal/internal/oci"
)

// Media types and annotations of Sigstore bundles stored as OCI referrers, as
// cosign v3 and GitHub's attest action write them (cosign specs/BUNDLE_SPEC.md).
const (
	// MediaType is the media type of a v0.3 Sigstore bundle, used as the
	// referrer's artifactType and as its layer's media type.
	MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

	AnnotationContent       = "dev.sigstore.bundle.content"
	AnnotationPredicateType = "dev.sigstore.bundle.predicateType"
	AnnotationCreated       = "org.opencontainers.image.created"

	// ContentDSSE and ContentMessageSignature are the values of AnnotationContent.
	ContentDSSE             = "dsse-envelope"
	ContentMessageSignature = "message-signature"
)

// Artifact is a Sigstore bundle to attach to a subject.
type Artifact struct {
	// Bundle is the bundle JSON, stored byte for byte.
	Bundle []byte
	// MediaType defaults to the package's MediaType.
	MediaType string
	// Content is ContentDSSE or ContentMessageSignature.
	Content string
	// PredicateType is the in-toto predicate type of a DSSE bundle; for a
	// message signature cosign v3 writes predicate.CosignSign.
	PredicateType string
	// Created is stamped as org.opencontainers.image.created. It is part of the
	// referrer's digest, so publishing the same bundle twice adds one referrer
	// only if Created is the same: pass the signing time. Zero means the
	// bundle's first transparency log integration time, or no annotation.
	Created time.Time
}

// artifactManifest is an OCI 1.1 image manifest with artifactType, in the
// field order cosign and the attest action use.
type artifactManifest struct {
	SchemaVersion int64             `json:"schemaVersion"`
	MediaType     types.MediaType   `json:"mediaType"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        v1.Descriptor     `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Subject       *v1.Descriptor    `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// manifest builds the referrer manifest for a bundle.
func manifest(s oci.Subject, b Artifact) ([]byte, v1.Descriptor, error) {
	mt := b.MediaType
	if mt == "" {
		mt = MediaType
	}
	if b.Content != ContentDSSE && b.Content != ContentMessageSignature {
		return nil, v1.Descriptor{}, fmt.Errorf("bundle content %q: want %q or %q", b.Content, ContentDSSE, ContentMessageSignature)
	}
	if len(b.Bundle) == 0 {
		return nil, v1.Descriptor{}, errors.New("empty bundle")
	}
	h, size, err := v1.SHA256(bytes.NewReader(b.Bundle))
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	ann := map[string]string{AnnotationContent: b.Content}
	if b.PredicateType != "" {
		ann[AnnotationPredicateType] = b.PredicateType
	}
	created := b.Created
	if created.IsZero() {
		created = integratedTime(b.Bundle)
	}
	if !created.IsZero() {
		ann[AnnotationCreated] = created.UTC().Format(time.RFC3339)
	}
	m := artifactManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  mt,
		Config:        oci.EmptyConfig(),
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(mt), Digest: h, Size: size}},
		Subject:       s.SubjectDescriptor(),
		Annotations:   ann,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	mh, msize, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	// The descriptor of a referrer carries its artifactType and annotations:
	// that is how the referrers API, the fallback index, cosign and gh tell a
	// bundle from anything else without fetching it.
	desc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: mh, Size: msize, ArtifactType: mt, Annotations: ann}
	return raw, desc, nil
}

// integratedTime reads verificationMaterial.tlogEntries[0].integratedTime,
// which makes the created annotation, and so the referrer, deterministic.
func integratedTime(bundle []byte) time.Time {
	var b struct {
		VerificationMaterial struct {
			TlogEntries []struct {
				IntegratedTime json.RawMessage `json:"integratedTime"`
			} `json:"tlogEntries"`
		} `json:"verificationMaterial"`
	}
	if json.Unmarshal(bundle, &b) != nil || len(b.VerificationMaterial.TlogEntries) == 0 {
		return time.Time{}
	}
	raw := strings.Trim(string(b.VerificationMaterial.TlogEntries[0].IntegratedTime), `"`)
	sec, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

// Put attaches a Sigstore bundle to the subject as an OCI referrer: it is
// PutAll with one bundle.
//
// Requests on a registry with the referrers API: the bundle blob (1 with
// monolithic upload, else 2) and the manifest PUT (1); plus a HEAD for the empty
// config once per repository. A registry that does not answer the PUT with
// OCI-Subject also gets the fallback index update: GET, PUT, and the GET that
// checks it (3). Publishing the same bundle again writes the same manifest and
// adds no referrer.
func Put(ctx context.Context, c *oci.Client, s oci.Subject, b Artifact) (oci.Result, error) {
	rs, err := PutAll(ctx, c, s, []Artifact{b})
	return rs[0], err
}

// PutAll attaches Sigstore bundles to the subject, each as its own OCI
// referrer, and returns one Result per bundle, in order; see
// oci.Client.PutReferrers for the order of the writes and their requests
// (2n+3 at least for n bundles on a registry without the referrers API,
// where n calls of Put cost 3n more).
func PutAll(ctx context.Context, c *oci.Client, s oci.Subject, bs []Artifact) ([]oci.Result, error) {
	refs := make([]oci.Referrer, len(bs))
	for i, b := range bs {
		raw, desc, err := manifest(s, b)
		if err != nil {
			return make([]oci.Result, len(bs)), fmt.Errorf("attaching bundle %d to %s: %w", i, s, err)
		}
		refs[i] = oci.Referrer{Manifest: raw, Descriptor: desc, Layers: [][]byte{b.Bundle}}
	}
	return c.PutReferrers(ctx, s, refs)
}

// Filter selects bundles; empty fields match everything.
type Filter struct {
	PredicateType string
	Content       string
}

// Found is a Sigstore bundle attached to a subject.
type Found struct {
	// Descriptor is the referrer manifest's.
	Descriptor v1.Descriptor
	// Bundle is the bundle JSON.
	Bundle        []byte
	MediaType     string
	Content       string
	PredicateType string
	// Created is the created annotation as written, "" when absent.
	Created string
	// Err is why the referrer could not be read (Entries only): its
	// manifest or bundle is missing, unparsable or not what its digest
	// promises. Only Descriptor, from the listing, is then set.
	Err error
}

// List lists the Sigstore bundles attached to a subject, through the
// referrers API or, on registries without it, the fallback tag. A referrer
// that cannot be read fails the listing: see Entries.
//
// Requests: one listing — the referrers API, or on a registry without it the
// fallback tag, after one probe of the API per client — then per matching
// bundle the referrer manifest and the bundle blob (2). Entries a writer left
// without annotations (cosign v2's fallback index) are fetched and judged by
// their manifest.
func List(ctx context.Context, c *oci.Client, s oci.Subject, f Filter) ([]Found, error) {
	found, err := Entries(ctx, c, s, f)
	if err != nil {
		return nil, err
	}
	for _, fb := range found {
		if fb.Err != nil {
			return nil, fmt.Errorf("listing bundles of %s: %w", s, fb.Err)
		}
	}
	return found, nil
}

// MaxBundles bounds the bundles Entries fetches for one subject, as cosign
// reads at most 1000 layers of a signature tag: anyone who can push to the
// repository can attach bundles, and each costs two requests.
const MaxBundles = 1000

// Entries is List for readers that judge each entry on its own (a
// verifier): a referrer whose manifest or bundle cannot be read is returned
// with Err set instead of failing the listing, so that anyone able to push
// one broken referrer cannot hide the valid ones. Only the listing itself,
// or a cancelled context, fails.
func Entries(ctx context.Context, c *oci.Client, s oci.Subject, f Filter) ([]Found, error) {
	descs, err := c.Referrers(ctx, s, MediaType)
	if err != nil {
		return nil, fmt.Errorf("listing bundles of %s: %w", s, err)
	}
	var cands []v1.Descriptor
	for _, d := range descs {
		if maybeBundle(d, f) {
			cands = append(cands, d)
		}
	}
	if len(cands) > MaxBundles {
		return nil, fmt.Errorf("listing bundles of %s: %d bundles attached, more than the %d Seal reads (delete old ones)", s, len(cands), MaxBundles)
	}
	found := make([]*Found, len(cands))
	_ = c.Parallel(len(cands), func(i int) error {
		fb, err := fetch(ctx, c, s.Ref.Context(), cands[i], f)
		if err != nil {
			fb = &Found{Descriptor: cands[i], Err: err}
		}
		found[i] = fb
		return nil
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("listing bundles of %s: %w", s, err)
	}
	var out []Found
	for _, fb := range found {
		if fb != nil {
			out = append(out, *fb)
		}
	}
	return out, nil
}

// maybeBundle decides from a listing entry whether it may be a wanted bundle.
// Entries with the empty config's media type or none are ambiguous and fetched.
func maybeBundle(d v1.Descriptor, f Filter) bool {
	switch {
	case strings.HasPrefix(d.ArtifactType, "application/vnd.dev.sigstore.bundle"):
		return matchAnnotations(d.Annotations, f)
	case d.ArtifactType == "" || d.ArtifactType == string(oci.EmptyMediaType):
		return d.MediaType == types.OCIManifestSchema1 && (len(d.Annotations) == 0 || matchAnnotations(d.Annotations, f))
	}
	return false
}

func matchAnnotations(ann map[string]string, f Filter) bool {
	if f.PredicateType != "" && ann[AnnotationPredicateType] != f.PredicateType {
		return false
	}
	if f.Content != "" && ann[AnnotationContent] != f.Content {
		return false
	}
	return true
}

// fetch reads one referrer and its bundle layer; nil when it is not a
// bundle or does not match.
func fetch(ctx context.Context, c *oci.Client, repo name.Repository, d v1.Descriptor, f Filter) (*Found, error) {
	m, err := c.Manifest(ctx, repo, d.Digest.String())
	if err != nil {
		return nil, fmt.Errorf("fetching referrer %s: %w", d.Digest, err)
	}
	var am artifactManifest
	if err := json.Unmarshal(m.Body, &am); err != nil {
		return nil, fmt.Errorf("parsing referrer %s: %w", d.Digest, err)
	}
	if len(am.Layers) != 1 || !strings.HasPrefix(string(am.Layers[0].MediaType), "application/vnd.dev.sigstore.bundle") {
		return nil, nil
	}
	if !matchAnnotations(am.Annotations, f) {
		return nil, nil
	}
	blob, err := c.Blob(ctx, repo, am.Layers[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("fetching bundle of referrer %s: %w", d.Digest, err)
	}
	return &Found{
		Descriptor:    v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Body)), ArtifactType: am.ArtifactType, Annotations: am.Annotations},
		Bundle:        blob,
		MediaType:     string(am.Layers[0].MediaType),
		Content:       am.Annotations[AnnotationContent],
		PredicateType: am.Annotations[AnnotationPredicateType],
		Created:       am.Annotations[AnnotationCreated],
	}, nil
}
