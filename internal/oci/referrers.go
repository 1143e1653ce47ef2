package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// EmptyMediaType is the OCI empty descriptor's media type, the config of artifacts.
const EmptyMediaType types.MediaType = "application/vnd.oci.empty.v1+json"

var (
	emptyJSON      = []byte("{}")
	emptyDigest, _ = v1.NewHash("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
)

// EmptyConfig is the descriptor of the OCI empty blob `{}`, the config of an
// artifact manifest; PutReferrers makes sure the blob is there.
func EmptyConfig() v1.Descriptor {
	return v1.Descriptor{MediaType: EmptyMediaType, Digest: emptyDigest, Size: int64(len(emptyJSON))}
}

// Result says what a publish did.
type Result struct {
	// Ref is where the artifact lives: repository@digest of a referrer, or the
	// repository:tag of a tag document (a cosign tag).
	Ref string
	// Descriptor describes the referrer manifest, or the tag's manifest as last
	// read back (holding other writers' entries too).
	Descriptor v1.Descriptor
	// Existed is true when a tag update found every entry in place and wrote
	// nothing. A referrer manifest is always written (the PUT is idempotent), so
	// on registries that process subjects PutReferrers does not report it.
	Existed bool
	// Fallback is true when the registry did not process the subject and the
	// Referrers Tag Schema index (tag sha256-<hex>) was updated instead.
	Fallback bool
}

// Referrer is an artifact manifest to attach to a subject as an OCI referrer.
type Referrer struct {
	// Manifest is the manifest JSON: an image manifest whose config is
	// EmptyConfig and whose subject is the subject's SubjectDescriptor.
	Manifest []byte
	// Descriptor is the manifest's descriptor, with the artifactType and
	// annotations that listings (the referrers API, the fallback index) show.
	Descriptor v1.Descriptor
	// Layers are the blobs the manifest's layers point at.
	Layers [][]byte
}

// PutReferrers attaches artifact manifests to the subject, each as its own OCI
// referrer, and returns one Result per referrer, in order. Blobs go first, the
// manifests after them, the fallback index last, so a verifier never finds a
// referrer whose content is missing. On error, a Result has a Ref only if its
// referrer is in place and findable.
//
// Requests for n referrers of one layer each on a registry with the referrers
// API: n layer blobs (n with monolithic upload, else 2n) and n manifest PUTs;
// plus a HEAD for the empty config once per repository. A registry that does
// not answer the PUTs with OCI-Subject gets one fallback index update for all
// n: GET, PUT and the GET that checks it (3). So n referrers cost at least
// 2n+3 requests on such a registry (3n+3 without monolithic upload), where n
// calls with one referrer each cost 3n more. Putting the same referrers again
// writes the same manifests and adds no referrer.
func (c *Client) PutReferrers(ctx context.Context, s Subject, refs []Referrer) ([]Result, error) {
	res := make([]Result, len(refs))
	if len(refs) == 0 {
		return res, nil
	}
	rc, err := c.repo(ctx, s.Ref.Context(), true)
	if err != nil {
		return res, fmt.Errorf("attaching referrers to %s: %w", s, err)
	}
	var blobs [][]byte
	for _, r := range refs {
		blobs = append(blobs, r.Layers...)
	}
	// The empty config and every layer blob, all at once.
	err = c.Parallel(1+len(blobs), func(i int) error {
		if i == 0 {
			return c.ensureEmptyConfig(ctx, rc)
		}
		_, err := c.putBlob(ctx, rc, blobs[i-1])
		return err
	})
	if err != nil {
		return res, fmt.Errorf("attaching referrers to %s: %w", s, err)
	}
	// Each referrer is a manifest of its own, PUT by digest. A registry that
	// processes subjects keeps the subject's referrers list itself, and may do
	// so with a read-modify-write (olareg v0.1.2 loses referrers to concurrent
	// PUTs): there the PUTs go one by one. A registry that does not (no
	// OCI-Subject on the first PUT) only stores them, so the rest go at once;
	// the fallback index, which they all share, comes after them.
	hdrs := make([]http.Header, len(refs))
	put := func(i int) error {
		d := refs[i].Descriptor
		hdr, err := c.putManifest(ctx, rc, d.Digest.String(), types.OCIManifestSchema1, refs[i].Manifest, "")
		if err != nil {
			return fmt.Errorf("writing referrer manifest %s: %w", d.Digest, err)
		}
		hdrs[i] = hdr
		return nil
	}
	// A registry known to lack the referrers API (a read of this run found
	// out) does not process subjects either: all at once from the start.
	if rc.reg.referrersAPI.Load() == no {
		err = c.Parallel(len(refs), put)
	} else if err = put(0); err == nil {
		if hdrs[0].Get("OCI-Subject") == s.Descriptor.Digest.String() {
			for i := 1; i < len(refs) && err == nil; i++ {
				err = put(i)
			}
		} else {
			err = c.Parallel(len(refs)-1, func(i int) error { return put(i + 1) })
		}
	}
	var fallback []v1.Descriptor
	for i, hdr := range hdrs {
		if hdr == nil {
			continue
		}
		d := refs[i].Descriptor
		if hdr.Get("OCI-Subject") == s.Descriptor.Digest.String() {
			rc.reg.referrersAPI.Store(yes)
			res[i] = Result{Ref: s.Ref.Context().Digest(d.Digest.String()).String(), Descriptor: d}
			continue
		}
		// The registry stored the manifest without processing its subject (no
		// OCI-Subject header): per the distribution spec, maintain the fallback
		// tag, once for all of them.
		fallback = append(fallback, d)
	}
	if len(fallback) > 0 {
		u := tagUpdate{repo: s.Ref.Context(), tag: DigestTag(s.Descriptor.Digest), format: fallbackFormat{}, entries: fallback}
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
				d := refs[i].Descriptor
				if hdr == nil || res[i].Ref != "" {
					continue
				}
				h, ok := had[d.Digest.String()]
				res[i] = Result{
					Ref:        s.Ref.Context().Digest(d.Digest.String()).String(),
					Descriptor: d,
					Fallback:   true,
					Existed:    !out.wrote || (ok && sameDescriptor(h, d) && h.Size == d.Size),
				}
			}
		}
	}
	if err != nil {
		return res, fmt.Errorf("attaching referrers to %s: %w", s, err)
	}
	return res, nil
}

// DigestTag is the tag form of a digest, <algorithm>-<hex>: the Referrers Tag
// Schema's fallback tag, and the stem of cosign's .sig and .att tags.
func DigestTag(h v1.Hash) string { return h.Algorithm + "-" + h.Hex }

// fallbackFormat is the Referrers Tag Schema index: an OCI index whose
// entries are keyed by digest. An entry of ours replaces one with the same
// digest but other metadata (cosign v2 labels entries with the config's media
// type and drops annotations): we wrote that manifest, so our descriptor is right.
type fallbackFormat struct{}

func (fallbackFormat) Parse(cur *Manifest) ([]v1.Descriptor, any, error) {
	if cur == nil {
		return nil, nil, nil
	}
	idx, err := parseFallbackIndex(cur.Body)
	if err != nil {
		return nil, nil, err
	}
	return idx.Manifests, idx.Annotations, nil
}

func (fallbackFormat) Render(entries []v1.Descriptor, rest any) (*TagDocument, error) {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: entries}
	if ann, ok := rest.(map[string]string); ok {
		idx.Annotations = ann
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	return &TagDocument{Body: raw, MediaType: types.OCIImageIndex}, nil
}

func (fallbackFormat) Key(d v1.Descriptor) string { return d.Digest.String() }

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

// Referrers lists the descriptors of the subject's referrers: the referrers
// API where the registry has it (following Link pagination), else the
// fallback tag. The artifactType filter is a hint the registry may ignore;
// callers filter again.
//
// Requests: one listing — the referrers API, or on a registry without it the
// fallback tag, after one probe of the API per client.
func (c *Client) Referrers(ctx context.Context, s Subject, artifactType string) ([]v1.Descriptor, error) {
	rc, err := c.repo(ctx, s.Ref.Context(), false)
	if err != nil {
		return nil, err
	}
	return c.referrers(ctx, rc, s.Descriptor.Digest, artifactType)
}

// maxReferrerPages bounds pagination of a referrers listing, and
// MaxReferrers its entries: past them a listing is an error, not a walk
// without end (anyone who can push to the repository can attach referrers).
const (
	maxReferrerPages = 50
	MaxReferrers     = 10000
)

// ErrTooManyReferrers is wrapped by the error for a listing over MaxReferrers.
var ErrTooManyReferrers = errors.New("too many referrers")

func checkReferrers(h v1.Hash, n int) error {
	if n > MaxReferrers {
		return fmt.Errorf("referrers of %s: %w: more than %d (delete old ones, or ask the registry's operator to)", h, ErrTooManyReferrers, MaxReferrers)
	}
	return nil
}

// referrers lists the referrers of a digest (see Referrers).
func (c *Client) referrers(ctx context.Context, rc *repoClient, h v1.Hash, artifactType string) ([]v1.Descriptor, error) {
	if rc.reg.referrersAPI.Load() != no {
		descs, ok, err := c.referrersAPI(ctx, rc, h, artifactType)
		if err != nil {
			return nil, err
		}
		if ok {
			rc.reg.referrersAPI.Store(yes)
			return descs, checkReferrers(h, len(descs))
		}
		rc.reg.referrersAPI.Store(no)
	}
	f, err := c.getManifest(ctx, rc, DigestTag(h))
	if errors.Is(err, ErrNotFound) {
		c.noteRead(rc.repo, DigestTag(h), nil)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading referrers fallback tag: %w", err)
	}
	c.noteRead(rc.repo, DigestTag(h), f)
	idx, err := parseFallbackIndex(f.Body)
	if err != nil {
		return nil, err
	}
	return idx.Manifests, checkReferrers(h, len(idx.Manifests))
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
		if err := checkReferrers(h, len(out)); err != nil {
			return nil, false, err
		}
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
