package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Limits on what a registry may send back. Manifests are capped at 4 MiB like
// in the distribution spec; blobs here are signatures, bundles and attestations,
// which may hold an SBOM but not an image layer.
const (
	manifestLimit = 4 << 20
	blobLimit     = 128 << 20
)

// manifestAccept lists every manifest type Seal signs or reads.
var manifestAccept = strings.Join([]string{
	string(types.OCIManifestSchema1),
	string(types.OCIImageIndex),
	string(types.DockerManifestSchema2),
	string(types.DockerManifestList),
}, ", ")

// Manifest is a manifest as the registry served it.
type Manifest struct {
	Body      []byte
	MediaType types.MediaType
	Digest    v1.Hash
	etag      string
}

// Manifest fetches a manifest by tag or digest (one GET). When ref is a
// digest the body is checked against it.
func (c *Client) Manifest(ctx context.Context, repo name.Repository, ref string) (*Manifest, error) {
	rc, err := c.repo(ctx, repo, false)
	if err != nil {
		return nil, err
	}
	return c.getManifest(ctx, rc, ref)
}

// Blob downloads a blob (one GET, plus a redirect where the registry sends
// one) and checks its digest.
func (c *Client) Blob(ctx context.Context, repo name.Repository, h v1.Hash) ([]byte, error) {
	rc, err := c.repo(ctx, repo, false)
	if err != nil {
		return nil, err
	}
	return c.getBlob(ctx, rc, h)
}

// PutBlobs uploads blobs, WithJobs at a time, without checking for them
// first: one request each on registries that accept a monolithic upload, two
// elsewhere.
func (c *Client) PutBlobs(ctx context.Context, repo name.Repository, blobs [][]byte) error {
	rc, err := c.repo(ctx, repo, true)
	if err != nil {
		return err
	}
	return c.Parallel(len(blobs), func(i int) error {
		_, err := c.putBlob(ctx, rc, blobs[i])
		return err
	})
}

// getManifest fetches a manifest by tag or digest (one GET). When ref is a
// digest the body is checked against it.
func (c *Client) getManifest(ctx context.Context, rc *repoClient, ref string) (*Manifest, error) {
	u := rc.base + "/manifests/" + ref
	resp, err := c.call(ctx, rc.http, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err == nil {
			req.Header.Set("Accept", manifestAccept)
		}
		return req, err
	}, manifestLimit, http.StatusOK)
	if err != nil {
		return nil, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(resp.body))
	if err != nil {
		return nil, err
	}
	if want, perr := v1.NewHash(ref); perr == nil && want != h {
		return nil, fmt.Errorf("manifest %s@%s: registry served content with digest %s", rc.repo, ref, h)
	}
	mt := mediaTypeOf(resp.header.Get("Content-Type"), resp.body)
	return &Manifest{Body: resp.body, MediaType: mt, Digest: h, etag: resp.header.Get("ETag")}, nil
}

// mediaTypeOf prefers the mediaType inside the document (it is what the digest
// covers) over the Content-Type header, which some registries decorate.
func mediaTypeOf(contentType string, body []byte) types.MediaType {
	var doc struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.MediaType != "" {
		return doc.MediaType
	}
	ct, _, _ := strings.Cut(contentType, ";")
	return types.MediaType(strings.TrimSpace(ct))
}

// putManifest stores a manifest under a tag or its digest (one PUT) and returns
// the response headers, which carry OCI-Subject when the registry processed a
// subject. ifMatch, when set, makes the write conditional on registries that
// support it; they answer 412 when the tag moved.
func (c *Client) putManifest(ctx context.Context, rc *repoClient, ref string, mt types.MediaType, body []byte, ifMatch string) (http.Header, error) {
	u := rc.base + "/manifests/" + ref
	resp, err := c.call(ctx, rc.http, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", string(mt))
			if ifMatch != "" {
				req.Header.Set("If-Match", ifMatch)
			}
		}
		return req, err
	}, 64<<10, http.StatusCreated, http.StatusOK, http.StatusAccepted, http.StatusNoContent)
	if err != nil {
		return nil, err
	}
	return resp.header, nil
}

// headManifest returns a manifest's descriptor (one HEAD). Registries that omit
// Docker-Content-Digest or Content-Type get a GET instead.
func (c *Client) headManifest(ctx context.Context, rc *repoClient, ref string) (v1.Descriptor, error) {
	u := rc.base + "/manifests/" + ref
	resp, err := c.call(ctx, rc.http, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err == nil {
			req.Header.Set("Accept", manifestAccept)
		}
		return req, err
	}, 0, http.StatusOK)
	if err != nil {
		return v1.Descriptor{}, err
	}
	h, herr := v1.NewHash(resp.header.Get("Docker-Content-Digest"))
	size, serr := strconv.ParseInt(resp.header.Get("Content-Length"), 10, 64)
	ct, _, _ := strings.Cut(resp.header.Get("Content-Type"), ";")
	mt := types.MediaType(strings.TrimSpace(ct))
	want, derr := v1.NewHash(ref)
	if herr == nil && serr == nil && size > 0 && (mt.IsImage() || mt.IsIndex()) && (derr != nil || want == h) {
		return v1.Descriptor{MediaType: mt, Size: size, Digest: h}, nil
	}
	f, err := c.getManifest(ctx, rc, ref)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: f.MediaType, Size: int64(len(f.Body)), Digest: f.Digest}, nil
}

// getBlob downloads a blob (one GET, plus a redirect where the registry sends
// one) and checks its digest.
func (c *Client) getBlob(ctx context.Context, rc *repoClient, h v1.Hash) ([]byte, error) {
	u := rc.base + "/blobs/" + h.String()
	resp, err := c.call(ctx, rc.http, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	}, blobLimit, http.StatusOK)
	if err != nil {
		return nil, err
	}
	got, _, err := v1.SHA256(bytes.NewReader(resp.body))
	if err != nil {
		return nil, err
	}
	if got != h {
		return nil, fmt.Errorf("blob %s@%s: registry served content with digest %s", rc.repo, h, got)
	}
	return resp.body, nil
}

// hasBlob reports whether a blob exists (one HEAD).
func (c *Client) hasBlob(ctx context.Context, rc *repoClient, h v1.Hash) (bool, error) {
	u := rc.base + "/blobs/" + h.String()
	resp, err := c.call(ctx, rc.http, func() (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	}, 0, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	return resp.status == http.StatusOK, nil
}

// putBlob uploads data. It costs one request on registries that accept a
// monolithic POST (learned on the first upload, at no extra cost) and two
// (POST, PUT) elsewhere. It does not check for existence first: Seal's blobs
// are new almost always, and a HEAD would cost more than it saves.
func (c *Client) putBlob(ctx context.Context, rc *repoClient, data []byte) (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		return v1.Hash{}, err
	}
	var last error
	for range 3 {
		last = c.uploadOnce(ctx, rc, h, data)
		if last == nil {
			return h, nil
		}
		var re *RegistryError
		if !errors.As(last, &re) || re.StatusCode >= 500 || ctx.Err() != nil {
			break
		}
		// A PUT whose 201 got lost and was retried meets a finished upload
		// session (404 or 400). The blob may well be there already.
		if ok, herr := c.hasBlob(ctx, rc, h); herr == nil && ok {
			return h, nil
		}
	}
	return v1.Hash{}, fmt.Errorf("uploading blob %s to %s: %w", h, rc.repo, last)
}

func (c *Client) uploadOnce(ctx context.Context, rc *repoClient, h v1.Hash, data []byte) error {
	start := rc.base + "/blobs/uploads/"
	mono := rc.reg.monolithic.Load() != no
	resp, err := c.call(ctx, rc.http, func() (*http.Request, error) {
		if !mono {
			return http.NewRequestWithContext(ctx, http.MethodPost, start, nil)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, start+"?digest="+url.QueryEscape(h.String()), bytes.NewReader(data))
		if err == nil {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
		return req, err
	}, 64<<10, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		var re *RegistryError
		if mono && errors.As(err, &re) && re.StatusCode < 500 && re.StatusCode != http.StatusUnauthorized && re.StatusCode != http.StatusForbidden {
			// Some registry refused the monolithic form; use POST then PUT from now on.
			rc.reg.monolithic.Store(no)
			return c.uploadOnce(ctx, rc, h, data)
		}
		return err
	}
	if resp.status == http.StatusCreated {
		if mono {
			rc.reg.monolithic.Store(yes)
		}
		return nil
	}
	if mono {
		rc.reg.monolithic.Store(no)
	}
	loc, err := location(resp)
	if err != nil {
		return err
	}
	q := loc.Query()
	q.Set("digest", h.String())
	loc.RawQuery = q.Encode()
	put := loc.String()
	_, err = c.call(ctx, rc.http, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, put, bytes.NewReader(data))
		if err == nil {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
		return req, err
	}, 64<<10, http.StatusCreated, http.StatusNoContent, http.StatusAccepted)
	return err
}

// location resolves a Location header against the request it answered.
func location(resp *response) (*url.URL, error) {
	l := resp.header.Get("Location")
	if l == "" {
		return nil, errors.New("upload session without a Location header")
	}
	u, err := url.Parse(l)
	if err != nil {
		return nil, fmt.Errorf("parsing upload location: %w", err)
	}
	return resp.url.ResolveReference(u), nil
}

// ensureEmptyConfig makes sure the OCI empty blob `{}` is in the repository:
// one HEAD per repository per client, plus an upload when it is missing.
func (c *Client) ensureEmptyConfig(ctx context.Context, rc *repoClient) error {
	st := rc.state
	st.emptyMu.Lock()
	defer st.emptyMu.Unlock()
	if st.emptyDone {
		return nil
	}
	ok, err := c.hasBlob(ctx, rc, emptyDigest)
	if err != nil {
		return fmt.Errorf("checking for the empty config blob in %s: %w", rc.repo, err)
	}
	if !ok {
		if _, err := c.putBlob(ctx, rc, emptyJSON); err != nil {
			return err
		}
	}
	st.emptyDone = true
	return nil
}

// Parallel runs f for 0..n-1, at most WithJobs at a time, and joins the
// errors: the bound on what one operation transfers at once.
func (c *Client) Parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, c.o.jobs)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = f(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
