package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types and annotations of Sigstore bundles stored as OCI referrers, as
// cosign v3 and GitHub's attest action write them (cosign specs/BUNDLE_SPEC.md).
const (
	// BundleMediaType is the media type of a v0.3 Sigstore bundle, used as the
	// referrer's artifactType and as its layer's media type.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// EmptyMediaType is the OCI empty descriptor's media type, the config of artifacts.
	EmptyMediaType types.MediaType = "application/vnd.oci.empty.v1+json"

	AnnotationBundleContent       = "dev.sigstore.bundle.content"
	AnnotationBundlePredicateType = "dev.sigstore.bundle.predicateType"
	AnnotationCreated             = "org.opencontainers.image.created"

	// ContentDSSE and ContentMessageSignature are the values of AnnotationBundleContent.
	ContentDSSE             = "dsse-envelope"
	ContentMessageSignature = "message-signature"
)

var (
	emptyJSON      = []byte("{}")
	emptyDigest, _ = v1.NewHash("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
)

// BundleArtifact is a Sigstore bundle to attach to a subject.
type BundleArtifact struct {
	// Bundle is the bundle JSON, stored byte for byte.
	Bundle []byte
	// MediaType defaults to BundleMediaType.
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

// Result says what a publish did.
type Result struct {
	// Ref is where the artifact lives: repository@digest of a referrer, or the
	// repository:tag of a cosign tag.
	Ref string
	// Descriptor describes the referrer manifest, or the tag's manifest as last
	// read back (holding other writers' entries too).
	Descriptor v1.Descriptor
	// Existed is true when a tag update found every entry in place and wrote
	// nothing. A referrer manifest is always written (the PUT is idempotent), so
	// on registries that process subjects PutBundle does not report it.
	Existed bool
	// Fallback is true when the registry did not process the subject and the
	// Referrers Tag Schema index (tag sha256-<hex>) was updated instead.
	Fallback bool
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

// bundleManifest builds the referrer manifest for a bundle.
func bundleManifest(s Subject, b BundleArtifact) ([]byte, v1.Descriptor, error) {
	mt := b.MediaType
	if mt == "" {
		mt = BundleMediaType
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
	ann := map[string]string{AnnotationBundleContent: b.Content}
	if b.PredicateType != "" {
		ann[AnnotationBundlePredicateType] = b.PredicateType
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
		Config:        v1.Descriptor{MediaType: EmptyMediaType, Digest: emptyDigest, Size: int64(len(emptyJSON))},
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(mt), Digest: h, Size: size}},
		Subject:       s.subjectDescriptor(),
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

// PutBundle attaches a Sigstore bundle to the subject as an OCI referrer: it
// is PutBundles with one bundle.
//
// Requests on a registry with the referrers API: the bundle blob (1 with
// monolithic upload, else 2) and the manifest PUT (1); plus a HEAD for the empty
// config once per repository. A registry that does not answer the PUT with
// OCI-Subject also gets the fallback index update: GET, PUT, and the GET that
// checks it (3). Publishing the same bundle again writes the same manifest and
// adds no referrer.
func (c *Client) PutBundle(ctx context.Context, s Subject, b BundleArtifact) (Result, error) {
	rs, err := c.PutBundles(ctx, s, []BundleArtifact{b})
	return rs[0], err
}

// PutBundles attaches Sigstore bundles to the subject, each as its own OCI
// referrer, and returns one Result per bundle, in order. Blobs go first, the
// manifests after them, the fallback index last, so a verifier never finds a
// referrer whose content is missing. On error, a Result has a Ref only if its
// referrer is in place and findable.
//
// Requests for n bundles on a registry with the referrers API: n bundle blobs
// (n with monolithic upload, else 2n) and n manifest PUTs; plus a HEAD for the
// empty config once per repository. A registry that does not answer the PUTs
// with OCI-Subject gets one fallback index update for all n: GET, PUT and the
// GET that checks it (3). So n bundles cost at least 2n+3 requests on such a
// registry (3n+3 without monolithic upload), where n calls of PutBundle cost 3n
// more. Publishing the same bundles again writes the same manifests and adds
// no referrer.
func (c *Client) PutBundles(ctx context.Context, s Subject, bs []BundleArtifact) ([]Result, error) {
	res := make([]Result, len(bs))
	if len(bs) == 0 {
		return res, nil
	}
	raws := make([][]byte, len(bs))
	descs := make([]v1.Descriptor, len(bs))
	for i, b := range bs {
		raw, desc, err := bundleManifest(s, b)
		if err != nil {
			return res, fmt.Errorf("attaching bundle %d to %s: %w", i, s, err)
		}
		raws[i], descs[i] = raw, desc
	}
	rc, err := c.repo(ctx, s.Ref.Context(), true)
	if err != nil {
		return res, fmt.Errorf("attaching bundles to %s: %w", s, err)
	}
	// The empty config and every bundle blob, all at once.
	err = c.parallel(1+len(bs), func(i int) error {
		if i == 0 {
			return c.ensureEmptyConfig(ctx, rc)
		}
		_, err := c.putBlob(ctx, rc, bs[i-1].Bundle)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("attaching bundles to %s: %w", s, err)
	}
	// Each referrer is a manifest of its own, PUT by digest. A registry that
	// processes subjects keeps the subject's referrers list itself, and may do
	// so with a read-modify-write (olareg v0.1.2 loses referrers to concurrent
	// PUTs): there the PUTs go one by one. A registry that does not (no
	// OCI-Subject on the first PUT) only stores them, so the rest go at once;
	// the fallback index, which they all share, comes after them.
	hdrs := make([]http.Header, len(bs))
	put := func(i int) error {
		hdr, err := c.putManifest(ctx, rc, descs[i].Digest.String(), types.OCIManifestSchema1, raws[i], "")
		if err != nil {
			return fmt.Errorf("writing referrer manifest %s: %w", descs[i].Digest, err)
		}
		hdrs[i] = hdr
		return nil
	}
	// A registry known to lack the referrers API (a read of this run found
	// out) does not process subjects either: all at once from the start.
	if rc.reg.referrersAPI.Load() == no {
		err = c.parallel(len(bs), put)
	} else if err = put(0); err == nil {
		if hdrs[0].Get("OCI-Subject") == s.Descriptor.Digest.String() {
			for i := 1; i < len(bs) && err == nil; i++ {
				err = put(i)
			}
		} else {
			err = c.parallel(len(bs)-1, func(i int) error { return put(i + 1) })
		}
	}
	var fallback []v1.Descriptor
	for i, hdr := range hdrs {
		if hdr == nil {
			continue
		}
		if hdr.Get("OCI-Subject") == s.Descriptor.Digest.String() {
			rc.reg.referrersAPI.Store(yes)
			res[i] = Result{Ref: s.Ref.Context().Digest(descs[i].Digest.String()).String(), Descriptor: descs[i]}
			continue
		}
		// The registry stored the manifest without processing its subject (no
		// OCI-Subject header): per the distribution spec, maintain the fallback
		// tag, once for all of them.
		fallback = append(fallback, descs[i])
	}
	if len(fallback) > 0 {
		u := tagUpdate{repo: s.Ref.Context(), tag: fallbackTag(s.Descriptor.Digest), format: fallbackFormat{}, entries: fallback}
		c.remember(u)
		out, ferr := c.updateTag(ctx, rc, u)
		if ferr != nil {
			err = errors.Join(err, ferr)
		} else {
			had := make(map[string]v1.Descriptor, len(out.initial))
			for _, d := range out.initial {
				had[d.Digest.String()] = d
			}
			for i, hdr := range hdrs {
				if hdr == nil || res[i].Ref != "" {
					continue
				}
				d, ok := had[descs[i].Digest.String()]
				res[i] = Result{
					Ref:        s.Ref.Context().Digest(descs[i].Digest.String()).String(),
					Descriptor: descs[i],
					Fallback:   true,
					Existed:    !out.wrote || (ok && sameDescriptor(d, descs[i]) && d.Size == descs[i].Size),
				}
			}
		}
	}
	if err != nil {
		return res, fmt.Errorf("attaching bundles to %s: %w", s, err)
	}
	return res, nil
}

// fallbackTag is the Referrers Tag Schema tag of a digest: <alg>-<hex>.
func fallbackTag(h v1.Hash) string { return h.Algorithm + "-" + h.Hex }

// fallbackFormat is the Referrers Tag Schema index: an OCI index whose
// entries are keyed by digest. An entry of ours replaces one with the same
// digest but other metadata (cosign v2 labels entries with the config's media
// type and drops annotations): we wrote that manifest, so our descriptor is right.
type fallbackFormat struct{}

func (fallbackFormat) parse(cur *fetched) ([]v1.Descriptor, any, error) {
	if cur == nil {
		return nil, nil, nil
	}
	idx, err := parseFallbackIndex(cur.body)
	if err != nil {
		return nil, nil, err
	}
	return idx.Manifests, idx.Annotations, nil
}

func (fallbackFormat) render(entries []v1.Descriptor, rest any) (*tagPlan, error) {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: entries}
	if ann, ok := rest.(map[string]string); ok {
		idx.Annotations = ann
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	return &tagPlan{body: raw, mediaType: types.OCIImageIndex}, nil
}

func (fallbackFormat) key(d v1.Descriptor) string { return d.Digest.String() }

// parseFallbackIndex reads a referrers index (from the API or the fallback tag).
func parseFallbackIndex(b []byte) (*v1.IndexManifest, error) {
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("parsing referrers index: %w", err)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("referrers index has schemaVersion %d, want 2", idx.SchemaVersion)
	}
	if idx.MediaType != "" && idx.MediaType != types.OCIImageIndex {
		return nil, fmt.Errorf("referrers index has media type %s, want %s", idx.MediaType, types.OCIImageIndex)
	}
	// An entry without a digest points nowhere, and writing it back would make
	// the index unreadable: leave such entries out.
	idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d v1.Descriptor) bool {
		return d.Digest.Algorithm == "" || d.Digest.Hex == ""
	})
	return &idx, nil
}

// BundleFilter selects bundles; empty fields match everything.
type BundleFilter struct {
	PredicateType string
	Content       string
}

// FoundBundle is a Sigstore bundle attached to a subject.
type FoundBundle struct {
	// Descriptor is the referrer manifest's.
	Descriptor v1.Descriptor
	// Bundle is the bundle JSON.
	Bundle        []byte
	MediaType     string
	Content       string
	PredicateType string
	// Created is the created annotation as written, "" when absent.
	Created string
	// Err is why the referrer could not be read (BundleEntries only): its
	// manifest or bundle is missing, unparsable or not what its digest
	// promises. Only Descriptor, from the listing, is then set.
	Err error
}

// Bundles lists the Sigstore bundles attached to a subject, through the
// referrers API or, on registries without it, the fallback tag. A referrer
// that cannot be read fails the listing: see BundleEntries.
//
// Requests: one listing — the referrers API, or on a registry without it the
// fallback tag, after one probe of the API per client — then per matching
// bundle the referrer manifest and the bundle blob (2). Entries a writer left
// without annotations (cosign v2's fallback index) are fetched and judged by
// their manifest.
func (c *Client) Bundles(ctx context.Context, s Subject, f BundleFilter) ([]FoundBundle, error) {
	found, err := c.BundleEntries(ctx, s, f)
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

// BundleEntries is Bundles for readers that judge each entry on its own (a
// verifier): a referrer whose manifest or bundle cannot be read is returned
// with Err set instead of failing the listing, so that anyone able to push
// one broken referrer cannot hide the valid ones. Only the listing itself,
// or a cancelled context, fails.
func (c *Client) BundleEntries(ctx context.Context, s Subject, f BundleFilter) ([]FoundBundle, error) {
	rc, err := c.repo(ctx, s.Ref.Context(), false)
	if err != nil {
		return nil, fmt.Errorf("listing bundles of %s: %w", s, err)
	}
	descs, err := c.referrers(ctx, rc, s.Descriptor.Digest, BundleMediaType)
	if err != nil {
		return nil, fmt.Errorf("listing bundles of %s: %w", s, err)
	}
	var cands []v1.Descriptor
	for _, d := range descs {
		if maybeBundle(d, f) {
			cands = append(cands, d)
		}
	}
	found := make([]*FoundBundle, len(cands))
	_ = c.parallel(len(cands), func(i int) error {
		fb, err := c.fetchBundle(ctx, rc, cands[i], f)
		if err != nil {
			fb = &FoundBundle{Descriptor: cands[i], Err: err}
		}
		found[i] = fb
		return nil
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("listing bundles of %s: %w", s, err)
	}
	var out []FoundBundle
	for _, fb := range found {
		if fb != nil {
			out = append(out, *fb)
		}
	}
	return out, nil
}

// maybeBundle decides from a listing entry whether it may be a wanted bundle.
// Entries with the empty config's media type or none are ambiguous and fetched.
func maybeBundle(d v1.Descriptor, f BundleFilter) bool {
	switch {
	case strings.HasPrefix(d.ArtifactType, "application/vnd.dev.sigstore.bundle"):
		return matchAnnotations(d.Annotations, f)
	case d.ArtifactType == "" || d.ArtifactType == string(EmptyMediaType):
		return d.MediaType == types.OCIManifestSchema1 && (len(d.Annotations) == 0 || matchAnnotations(d.Annotations, f))
	}
	return false
}

func matchAnnotations(ann map[string]string, f BundleFilter) bool {
	if f.PredicateType != "" && ann[AnnotationBundlePredicateType] != f.PredicateType {
		return false
	}
	if f.Content != "" && ann[AnnotationBundleContent] != f.Content {
		return false
	}
	return true
}

// fetchBundle reads one referrer and its bundle layer; nil when it is not a
// bundle or does not match.
func (c *Client) fetchBundle(ctx context.Context, rc *repoClient, d v1.Descriptor, f BundleFilter) (*FoundBundle, error) {
	m, err := c.getManifest(ctx, rc, d.Digest.String())
	if err != nil {
		return nil, fmt.Errorf("fetching referrer %s: %w", d.Digest, err)
	}
	var am artifactManifest
	if err := json.Unmarshal(m.body, &am); err != nil {
		return nil, fmt.Errorf("parsing referrer %s: %w", d.Digest, err)
	}
	if len(am.Layers) != 1 || !strings.HasPrefix(string(am.Layers[0].MediaType), "application/vnd.dev.sigstore.bundle") {
		return nil, nil
	}
	if !matchAnnotations(am.Annotations, f) {
		return nil, nil
	}
	blob, err := c.getBlob(ctx, rc, am.Layers[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("fetching bundle of referrer %s: %w", d.Digest, err)
	}
	return &FoundBundle{
		Descriptor:    v1.Descriptor{MediaType: m.mediaType, Digest: m.digest, Size: int64(len(m.body)), ArtifactType: am.ArtifactType, Annotations: am.Annotations},
		Bundle:        blob,
		MediaType:     string(am.Layers[0].MediaType),
		Content:       am.Annotations[AnnotationBundleContent],
		PredicateType: am.Annotations[AnnotationBundlePredicateType],
		Created:       am.Annotations[AnnotationCreated],
	}, nil
}

// maxReferrerPages bounds pagination of a referrers listing.
const maxReferrerPages = 50

// referrers lists the referrers of a digest: the referrers API where the
// registry has it (following Link pagination), else the fallback tag. The
// artifactType filter is a hint the registry may ignore; callers filter again.
func (c *Client) referrers(ctx context.Context, rc *repoClient, h v1.Hash, artifactType string) ([]v1.Descriptor, error) {
	if rc.reg.referrersAPI.Load() != no {
		descs, ok, err := c.referrersAPI(ctx, rc, h, artifactType)
		if err != nil {
			return nil, err
		}
		if ok {
			rc.reg.referrersAPI.Store(yes)
			return descs, nil
		}
		rc.reg.referrersAPI.Store(no)
	}
	f, err := c.getManifest(ctx, rc, fallbackTag(h))
	if errors.Is(err, ErrNotFound) {
		c.noteRead(rc.repo, fallbackTag(h), nil)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading referrers fallback tag: %w", err)
	}
	c.noteRead(rc.repo, fallbackTag(h), f)
	idx, err := parseFallbackIndex(f.body)
	if err != nil {
		return nil, err
	}
	return idx.Manifests, nil
}

// referrersAPI calls GET /v2/<repo>/referrers/<digest>; ok is false when the
// registry does not implement it (404, 400, 406, or no index in the answer).
func (c *Client) referrersAPI(ctx context.Context, rc *repoClient, h v1.Hash, artifactType string) ([]v1.Descriptor, bool, error) {
	next := rc.base + "/referrers/" + h.String()
	if artifactType != "" {
		next += "?artifactType=" + url.QueryEscape(artifactType)
	}
	var out []v1.Descriptor
	for page := 0; next != ""; page++ {
		if page == maxReferrerPages {
			return nil, false, fmt.Errorf("referrers of %s: more than %d pages", h, maxReferrerPages)
		}
		u := next
		resp, err := c.call(ctx, rc.http, func() (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err == nil {
				req.Header.Set("Accept", string(types.OCIImageIndex))
			}
			return req, err
		}, manifestLimit, http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusNotAcceptable)
		if err != nil {
			return nil, false, fmt.Errorf("listing referrers of %s: %w", h, err)
		}
		ct, _, _ := strings.Cut(resp.header.Get("Content-Type"), ";")
		if resp.status != http.StatusOK || strings.TrimSpace(ct) != string(types.OCIImageIndex) {
			if page == 0 {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("listing referrers of %s: page %d answered %d", h, page, resp.status)
		}
		idx, err := parseFallbackIndex(resp.body)
		if err != nil {
			return nil, false, err
		}
		out = append(out, idx.Manifests...)
		next, err = nextLink(resp)
		if err != nil {
			return nil, false, err
		}
	}
	return out, true, nil
}

// nextLink returns the rel="next" target of a Link header, resolved against the
// request URL, or "".
func nextLink(resp *response) (string, error) {
	for _, v := range resp.header.Values("Link") {
		for part := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(part, ";")
			if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
				continue
			}
			target = strings.Trim(strings.TrimSpace(target), "<>")
			u, err := url.Parse(target)
			if err != nil {
				return "", fmt.Errorf("parsing Link header: %w", err)
			}
			r := resp.url.ResolveReference(u)
			if r.Host != resp.url.Host {
				return "", fmt.Errorf("referrers pagination points to another host %s", r.Host)
			}
			return r.String(), nil
		}
	}
	return "", nil
}
